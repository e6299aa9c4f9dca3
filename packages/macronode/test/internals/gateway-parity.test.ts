import assert from 'node:assert/strict';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { HttpMetrics, createLogger } from '@ron/kernel';
import { createGateway, type RouteTable } from '../../src/planes/gateway/proxy.js';

// The gateway's raw fast path (bodiless GET/HEAD/DELETE before Fastify) and its Fastify routes must
// answer alike: the same status, the same end-to-end headers both ways, the same body, the same
// envelope when the plane is down. Two gateways over one upstream, one with the fast path off; every
// request goes to both and the answers (and what the upstream saw) are compared. A Fastify onRequest
// hook proves which path each gateway took, so the comparison cannot pass vacuously.

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const BIG = 'x'.repeat(200 * 1024);

async function startUpstream(): Promise<{ url: string; seen: Seen[]; close(): void }> {
  const seen: Seen[] = [];
  const server = createHttpServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v1/kv/b/k') {
      if (req.method === 'DELETE') return void res.writeHead(204).end();
      return void res
        .writeHead(200, { 'content-type': 'text/plain', etag: '"v1"', 'cache-control': 'no-cache' })
        .end('value');
    }
    if (path === '/v1/kv/b/missing')
      return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NotFound"}');
    if (path === '/v1/kv/b/hop')
      return void res
        .writeHead(200, {
          'x-up': '1',
          'proxy-authenticate': 'Basic realm="y"',
          connection: 'keep-alive, x-up-hop',
          'x-up-hop': 'private',
          'x-request-id': 'upstream-id',
        })
        .end('hop');
    if (path === '/v1/kv/b/big')
      return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(BIG);
    if (path === '/v1/kv/b/timeout')
      return void res.writeHead(408, { 'content-type': 'application/json', connection: 'close' }).end('{}');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function startGateway(
  table: RouteTable,
  fastPath: boolean,
): Promise<{ port: number; routed: string[]; close(): Promise<void> }> {
  const gw = createGateway({
    logger: createLogger('gateway', 'silent'),
    metrics: new HttpMetrics({
      requestsName: 'gateway_http_requests_total',
      latencyName: 'gateway_request_latency_seconds',
      rejectionsName: 'gateway_rejections_total',
      defaultCollectors: false,
    }),
    routes: () => table,
    idleTimeoutMs: 5000,
    readTimeoutMs: 5000,
    maxInflight: 64,
    fastPath,
  });
  const routed: string[] = [];
  gw.app.addHook('onRequest', (req, _reply, done) => {
    routed.push(`${req.method} ${req.url}`);
    done();
  });
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    port: (gw.app.server.address() as AddressInfo).port,
    routed,
    async close() {
      await gw.app.close();
      await gw.close();
    },
  };
}

/** One request on a fresh connection; headers that differ by nature (date, the id's value) are masked. */
function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (k === 'date' || k === 'keep-alive' || v === undefined) continue;
          h[k] = k === 'x-request-id' ? '<id>' : Array.isArray(v) ? v.join(', ') : v;
        }
        // The error envelope names the request id and the time: mask their values too.
        const body = Buffer.concat(chunks)
          .toString('utf8')
          .replace(/"request_id":"[^"]*"/, '"request_id":"<id>"')
          .replace(/"ts":"[^"]*"/, '"ts":"<ts>"');
        resolve({ status: res.statusCode ?? 0, headers: h, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the upstream saw, with the per-request values masked. */
function seenShape(s: Seen): Record<string, unknown> {
  const h = { ...s.headers };
  delete h['x-request-id'];
  delete h.host;
  return { method: s.method, url: s.url, headers: h, id: typeof s.headers['x-request-id'] };
}

const CASES: { method: string; path: string; headers?: Record<string, string> }[] = [
  { method: 'GET', path: '/v1/kv/b/k' },
  { method: 'GET', path: '/v1/kv/b/k?x=1&y=%20', headers: { 'if-none-match': '"v0"', accept: '*/*' } },
  { method: 'HEAD', path: '/v1/kv/b/k' },
  { method: 'DELETE', path: '/v1/kv/b/k' },
  { method: 'GET', path: '/v1/kv/b/missing' },
  { method: 'GET', path: '/v1/kv/b/big' },
  { method: 'GET', path: '/v1/kv' },
  {
    method: 'GET',
    path: '/v1/kv/b/hop',
    headers: {
      connection: 'keep-alive, x-secret',
      'x-secret': 'drop me',
      te: 'trailers',
      'proxy-authorization': 'Basic eA==',
      'x-forwarded-for': '203.0.113.7',
      'x-request-id': 'client-chosen',
      'x-end-to-end': 'keep me',
    },
  },
  { method: 'GET', path: '/v1/kv/b/timeout' },
];

test('fast path and Fastify routes answer alike (status, headers both ways, body, envelopes)', async (t) => {
  const up = await startUpstream();
  const table: RouteTable = {
    planes: { kv: { url: up.url, state: 'running', retry_at: null } },
    prefixes: { '/v1/kv': 'kv' },
    limits: { max_body_bytes: 1 << 20, write_timeout: 2000 },
  };
  const fast = await startGateway(table, true);
  const slow = await startGateway(table, false);
  t.after(async () => {
    up.close();
    await fast.close();
    await slow.close();
  });

  for (const c of CASES) {
    const before = up.seen.length;
    const a = await send(fast.port, c.method, c.path, c.headers ?? {});
    const b = await send(slow.port, c.method, c.path, c.headers ?? {});
    const what = `${c.method} ${c.path}`;
    assert.deepEqual(a, b, `${what}: both paths give the same answer`);
    assert.equal(up.seen.length, before + 2, `${what}: each gateway forwarded it once`);
    assert.deepEqual(
      seenShape(up.seen[before]!),
      seenShape(up.seen[before + 1]!),
      `${what}: same upstream request`,
    );
  }
  // The comparison was between two different paths.
  assert.deepEqual(fast.routed, [], 'the fast gateway took every case before Fastify');
  assert.equal(slow.routed.length, CASES.length, 'the other gateway routed every case through Fastify');
  // And the headers the contract names are right on both (not merely equal).
  const hop = await send(fast.port, 'GET', '/v1/kv/b/hop', {});
  assert.equal(hop.headers['x-up'], '1');
  assert.equal(hop.headers['x-up-hop'], undefined, 'a header the answer names in Connection is dropped');
  assert.equal(hop.headers['proxy-authenticate'], undefined);
  assert.equal(hop.headers['x-request-id'], '<id>');
  const seenHop = up.seen.at(-1)!.headers;
  assert.equal(seenHop['x-secret'], undefined);
  const t408 = await send(slow.port, 'GET', '/v1/kv/b/timeout', {});
  assert.equal(t408.headers.connection, 'close', 'a 408 closes the client connection');

  // A plane that is down: both paths give the same 503 envelope with Retry-After.
  up.close();
  table.planes.kv = { url: 'http://127.0.0.1:1', state: 'running', retry_at: null };
  const d1 = await send(fast.port, 'GET', '/v1/kv/b/k', {});
  const d2 = await send(slow.port, 'GET', '/v1/kv/b/k', {});
  assert.equal(d1.status, 503);
  assert.equal(d1.headers['retry-after'], '1');
  assert.deepEqual(d1, d2, 'unreachable plane: same answer on both paths');
});
