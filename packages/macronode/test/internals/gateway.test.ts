import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { HttpMetrics, createLogger } from '@ron/kernel';
import { createGateway, type RouteTable } from '../../src/planes/gateway/proxy.js';

// Contract tests of the gateway's reverse proxy (SPEC §1.2 envelope, §1.3 request ids, §1.4 guards,
// §1.5 metrics, §4.5 gateway plane) against a real node:http upstream on loopback. Every test gets
// its own upstream, route table and gateway.

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const MiB = 1024 * 1024;
/** 3 MiB of random bytes the upstream serves on /v1/kv/big/*. */
const BIG = randomBytes(3 * MiB);

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Upstream {
  server: Server;
  url: string;
  seen: Seen[];
  /** Responses parked by /v1/kv/hold/* until released. */
  held: ServerResponse[];
  /** Resolves once `n` requests are parked on /v1/kv/hold/*. */
  heldCount(n: number): Promise<void>;
  releaseAll(): void;
  /** Resolves when a /v1/kv/slow/* response ended or its connection closed (how: 'finished' | 'closed'). */
  slowDone: Promise<'finished' | 'closed'>;
}

async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const held: ServerResponse[] = [];
  let heldWaiters: { n: number; resolve: () => void }[] = [];
  let slowDoneResolve: (how: 'finished' | 'closed') => void = () => undefined;
  const slowDone = new Promise<'finished' | 'closed'>((r) => (slowDoneResolve = r));

  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (path === '/v1/kv/b/k' || path === '/v1/kv/b/k-unique-123') {
        if (req.method === 'DELETE') {
          res.writeHead(204).end();
          return;
        }
        const payload = Buffer.from('value-of-k\n');
        res.writeHead(200, {
          'content-type': 'application/x-ron-test; charset=utf-8',
          'content-length': payload.length,
        });
        res.end(payload); // node omits the body for HEAD
        return;
      }
      if (path === '/v1/kv/b/missing') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"upstream":"not here"}');
        return;
      }
      if (path === '/v1/kv/b/rid') {
        res.writeHead(200, { 'x-request-id': 'upstream-id', 'content-type': 'text/plain' }).end('rid');
        return;
      }
      if (path === '/v1/kv/b/hop') {
        res
          .writeHead(200, {
            'x-up': '1',
            'proxy-authenticate': 'Basic realm="y"',
            'content-type': 'text/plain',
            connection: 'keep-alive, x-up-hop',
            'x-up-hop': 'private',
          })
          .end('hop');
        return;
      }
      if (path === '/v1/kv/b/put') {
        // Echo the stored body back (a >64 KiB answer, so the streamed answer path is exercised too).
        res.writeHead(201, {
          'content-type': 'application/octet-stream',
          'content-length': body.length,
          'x-stored': String(body.length),
        });
        res.end(body);
        return;
      }
      if (path === '/v1/kv/big/cl' || path === '/v1/kv/big/chunked') {
        const headers: OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
        if (path === '/v1/kv/big/cl') headers['content-length'] = BIG.length;
        res.writeHead(200, headers);
        const step = 256 * 1024;
        let at = 0;
        const next = (): void => {
          while (at < BIG.length) {
            const part = BIG.subarray(at, at + step);
            at += step;
            if (!res.write(part)) {
              res.once('drain', next);
              return;
            }
          }
          res.end();
        };
        next();
        return;
      }
      if (path.startsWith('/v1/kv/hold/')) {
        held.push(res);
        res.on('close', () => {
          const i = held.indexOf(res);
          if (i >= 0) held.splice(i, 1);
        });
        heldWaiters = heldWaiters.filter((w) => {
          if (held.length >= w.n) {
            w.resolve();
            return false;
          }
          return true;
        });
        return;
      }
      if (path.startsWith('/v1/kv/slow/')) {
        // 40 chunks of 4 KiB, one every 50 ms (2 s in all), with a declared length above 64 KiB
        // (so no proxy path can buffer it whole before answering).
        const n = 40;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n * 4096 });
        let sent = 0;
        const timer = setInterval(() => {
          if (res.destroyed) return;
          res.write(Buffer.alloc(4096, 0x61));
          if (++sent === n) {
            clearInterval(timer);
            res.end();
          }
        }, 50);
        res.on('finish', () => slowDoneResolve('finished'));
        res.on('close', () => {
          clearInterval(timer);
          slowDoneResolve(res.writableFinished ? 'finished' : 'closed');
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    seen,
    held,
    heldCount: (n) =>
      held.length >= n ? Promise.resolve() : new Promise<void>((resolve) => heldWaiters.push({ n, resolve })),
    releaseAll() {
      for (const r of held.splice(0)) r.writeHead(200, { 'content-type': 'text/plain' }).end('released');
    },
    slowDone,
  };
}

interface Harness {
  up: Upstream;
  table: RouteTable;
  metrics: HttpMetrics;
  port: number;
}

async function setup(t: TestContext, opts: { maxInflight?: number } = {}): Promise<Harness> {
  const up = await startUpstream();
  const table: RouteTable = {
    planes: { kv: { url: up.url, state: 'running', retry_at: null } },
    prefixes: { '/v1/kv': 'kv' },
    limits: { max_body_bytes: MiB, write_timeout: 2000 },
  };
  const metrics = new HttpMetrics({
    requestsName: 'gateway_http_requests_total',
    latencyName: 'gateway_request_latency_seconds',
    rejectionsName: 'gateway_rejections_total',
    defaultCollectors: false,
  });
  const gw = createGateway({
    logger: createLogger('gateway', 'silent'),
    metrics,
    routes: () => table,
    idleTimeoutMs: 5000,
    readTimeoutMs: 5000,
    maxInflight: opts.maxInflight ?? 64,
  });
  t.after(async () => {
    // Upstream first: parked or slow responses would otherwise keep the gateway's close waiting.
    up.releaseAll();
    up.server.closeAllConnections();
    up.server.close();
    await within(5000, 'gateway app.close()', gw.app.close());
    await within(5000, 'gateway close() (upstream pools)', gw.close());
  });
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  return { up, table, metrics, port };
}

/** Awaits `p`, failing (with a live timer, so the event loop cannot just run dry) after `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** One request over a fresh connection (no agent, so nothing lingers between tests). */
function call(
  port: number,
  path: string,
  o: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer } = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...o.headers };
    if (o.body !== undefined && headers['content-length'] === undefined)
      headers['content-length'] = o.body.length;
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Every value of a header in a raw header list (case-insensitive name). */
function rawValues(r: Res, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2)
    if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}

interface EnvelopeError {
  code: string;
  message: string;
  retryable: boolean;
  ts: string;
  request_id: string;
  hint?: string;
}

/** Asserts the SPEC §1.2 envelope with the echoed request id (§1.3) and returns its error object. */
function envelope(r: Res, status: number, code: string): EnvelopeError {
  assert.equal(r.status, status, `status (body: ${r.body.toString().slice(0, 300)})`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const body = JSON.parse(r.body.toString()) as { error: EnvelopeError };
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.doesNotMatch(body.error.message, /\n\s+at |\/work\/|node_modules/, 'no stack traces or file paths');
  assert.equal(typeof body.error.retryable, 'boolean');
  assert.equal(typeof body.error.ts, 'string');
  const rid = r.headers['x-request-id'];
  assert.equal(typeof rid, 'string', 'x-request-id echoed on the error');
  assert.equal(body.error.request_id, rid);
  return body.error;
}

/** The value of one exposition line `name{labels} value` whose labels include all of `want`. */
function series(
  text: string,
  name: string,
  want: Record<string, string>,
): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const lm of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

const T = { timeout: 20_000 };

test(
  '1. GET is proxied: status, body bytes and content-type pass through; upstream sees the same path and query',
  T,
  async (t) => {
    const h = await setup(t);
    const r = await call(h.port, '/v1/kv/b/k?x=1&y=a%20b');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'value-of-k\n');
    assert.equal(r.headers['content-type'], 'application/x-ron-test; charset=utf-8');
    assert.equal(h.up.seen.length, 1);
    assert.equal(h.up.seen[0]!.method, 'GET');
    assert.equal(h.up.seen[0]!.url, '/v1/kv/b/k?x=1&y=a%20b');

    // An upstream error status and body are the plane's answer: passed through, not rewritten.
    const miss = await call(h.port, '/v1/kv/b/missing');
    assert.equal(miss.status, 404);
    assert.equal(miss.body.toString(), '{"upstream":"not here"}');
    assert.equal(h.up.seen[1]!.url, '/v1/kv/b/missing');
  },
);

test(
  '2. request ids: a valid client id is forwarded and echoed; otherwise a ULID is generated, forwarded and echoed; the upstream cannot override it',
  T,
  async (t) => {
    const h = await setup(t);
    const lastSeen = (): IncomingHttpHeaders => h.up.seen[h.up.seen.length - 1]!.headers;
    // GET (bodiless) and PUT (with a body) take different proxy paths: both must hold the contract.
    for (const via of [{ method: 'GET' }, { method: 'PUT', body: Buffer.from('v') }]) {
      const m = via.method;
      const given = await call(h.port, '/v1/kv/b/rid', { ...via, headers: { 'x-request-id': 'abc-123' } });
      assert.equal(given.status, 200);
      assert.equal(lastSeen()['x-request-id'], 'abc-123', m);
      assert.deepEqual(
        rawValues(given, 'x-request-id'),
        ['abc-123'],
        `${m}: exactly one x-request-id, the gateway one (not upstream-id)`,
      );

      const none = await call(h.port, '/v1/kv/b/rid', via);
      const gen = rawValues(none, 'x-request-id');
      assert.equal(gen.length, 1, `${m}: one x-request-id, got ${JSON.stringify(gen)}`);
      assert.match(gen[0]!, ULID, m);
      assert.equal(lastSeen()['x-request-id'], gen[0], m);

      // Boundaries of 1–128 chars of [A-Za-z0-9._:-].
      for (const ok of ['a.b_c:d-E9', 'x'.repeat(128)]) {
        const r = await call(h.port, '/v1/kv/b/rid', { ...via, headers: { 'x-request-id': ok } });
        assert.deepEqual(rawValues(r, 'x-request-id'), [ok], m);
        assert.equal(lastSeen()['x-request-id'], ok, m);
      }
      for (const bad of ['has space', 'a'.repeat(129), 'a'.repeat(200), 'semi;colon', 'slash/y']) {
        const r = await call(h.port, '/v1/kv/b/rid', { ...via, headers: { 'x-request-id': bad } });
        const ids = rawValues(r, 'x-request-id');
        assert.equal(ids.length, 1, `${m} ${bad}: ${JSON.stringify(ids)}`);
        assert.match(ids[0]!, ULID, `${m}: invalid id ${JSON.stringify(bad)} must be replaced`);
        assert.equal(lastSeen()['x-request-id'], ids[0], m);
      }
    }
  },
);

test('3. X-Forwarded-For: the peer is appended to (or starts) the chain', T, async (t) => {
  const h = await setup(t);
  for (const via of [{ method: 'GET' }, { method: 'PUT', body: Buffer.from('v') }]) {
    await call(h.port, '/v1/kv/b/k', via);
    assert.equal(h.up.seen.at(-1)!.headers['x-forwarded-for'], '127.0.0.1', via.method);
    await call(h.port, '/v1/kv/b/k', { ...via, headers: { 'x-forwarded-for': '1.2.3.4' } });
    assert.equal(h.up.seen.at(-1)!.headers['x-forwarded-for'], '1.2.3.4, 127.0.0.1', via.method);
  }
  assert.equal(h.up.seen.length, 4);
});

test('4. hop-by-hop headers are dropped in both directions; end-to-end headers pass', T, async (t) => {
  const h = await setup(t);
  for (const via of [{ method: 'GET' }, { method: 'PUT', body: Buffer.from('v') }]) {
    const m = via.method;
    const r = await call(h.port, '/v1/kv/b/hop', {
      ...via,
      headers: {
        te: 'trailers',
        'proxy-authorization': 'Basic eDp5',
        'keep-alive': 'timeout=5',
        'x-custom': '1',
        authorization: 'Bearer t',
        // RFC 9110 §7.6.1: a header named in Connection is hop-by-hop too.
        connection: 'keep-alive, x-foo',
        'x-foo': 'bar',
      },
    });
    assert.equal(r.status, 200, m);
    const seen = h.up.seen.at(-1)!.headers;
    assert.equal(seen.te, undefined, `${m}: te forwarded`);
    assert.equal(seen['proxy-authorization'], undefined, `${m}: proxy-authorization forwarded`);
    assert.equal(seen['keep-alive'], undefined, `${m}: keep-alive forwarded`);
    assert.equal(seen['x-custom'], '1', m);
    assert.equal(seen.authorization, 'Bearer t', m);
    assert.equal(r.headers['x-up'], '1', m);
    assert.equal(
      r.headers['proxy-authenticate'],
      undefined,
      `${m}: proxy-authenticate passed back to the client`,
    );
    assert.equal(seen['x-foo'], undefined, `${m}: a header named in the client's Connection was forwarded`);
    assert.equal(
      r.headers['x-up-hop'],
      undefined,
      `${m}: a header named in the upstream's Connection was passed back`,
    );
    assert.equal(r.body.toString(), 'hop', m);
  }
});

test('5. HEAD: status and content-length from upstream, no body', T, async (t) => {
  const h = await setup(t);
  const r = await call(h.port, '/v1/kv/b/k', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(Buffer.byteLength('value-of-k\n')));
  assert.equal(r.headers['content-type'], 'application/x-ron-test; charset=utf-8');
  assert.equal(r.body.length, 0);
  assert.equal(h.up.seen[0]!.method, 'HEAD');
});

test('6. DELETE passes through: 204 with an empty body', T, async (t) => {
  const h = await setup(t);
  const r = await call(h.port, '/v1/kv/b/k', { method: 'DELETE' });
  assert.equal(r.status, 204);
  assert.equal(r.body.length, 0);
  assert.equal(h.up.seen[0]!.method, 'DELETE');
  assert.equal(h.up.seen[0]!.url, '/v1/kv/b/k');
});

test(
  '7. PUT with a 300 KB body reaches upstream byte-identical with its content-type; 201 passes back',
  T,
  async (t) => {
    const h = await setup(t);
    const body = randomBytes(300 * 1024);
    const r = await call(h.port, '/v1/kv/b/put?v=2', {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/x-ron-blob' },
    });
    assert.equal(r.status, 201);
    assert.equal(h.up.seen.length, 1);
    const s = h.up.seen[0]!;
    assert.equal(s.method, 'PUT');
    assert.equal(s.url, '/v1/kv/b/put?v=2');
    assert.equal(s.headers['content-type'], 'application/x-ron-blob');
    assert.equal(s.body.length, body.length);
    assert.ok(s.body.equals(body), 'upstream body differs from the client body');
    assert.equal(r.headers['x-stored'], String(body.length));
    assert.ok(r.body.equals(body), 'echoed 300 KB answer differs');
  },
);

test(
  '8. large upstream answers (3 MiB, with content-length and chunked) arrive byte-identical',
  T,
  async (t) => {
    const h = await setup(t);
    for (const path of ['/v1/kv/big/cl', '/v1/kv/big/chunked']) {
      // GET (bodiless) and POST (with a body) take different proxy paths; both must be exact.
      for (const method of ['GET', 'POST']) {
        const r = await call(
          h.port,
          path,
          method === 'POST'
            ? { method, body: Buffer.from('{}'), headers: { 'content-type': 'application/json' } }
            : {},
        );
        assert.equal(r.status, 200, `${method} ${path}`);
        assert.equal(r.body.length, BIG.length, `${method} ${path} length`);
        assert.ok(r.body.equals(BIG), `${method} ${path} bytes differ`);
        if (path === '/v1/kv/big/cl' && r.headers['content-length'] !== undefined) {
          assert.equal(r.headers['content-length'], String(BIG.length));
        }
      }
    }
  },
);

test(
  '9. a plane that is not running: 503 NotReady envelope with Retry-After; upstream sees nothing',
  T,
  async (t) => {
    const h = await setup(t);
    h.table.planes.kv = { url: null, state: 'backoff', retry_at: Date.now() + 3000 };
    const r = await call(h.port, '/v1/kv/b/k', { headers: { 'x-request-id': 'nr-1' } });
    const e = envelope(r, 503, 'NotReady');
    assert.equal(e.request_id, 'nr-1');
    assert.match(String(r.headers['retry-after']), /^\d+$/);
    assert.ok(Number(r.headers['retry-after']) >= 1);

    h.table.planes.kv = { url: null, state: 'failed', retry_at: null };
    const f = await call(h.port, '/v1/kv/b/k');
    envelope(f, 503, 'NotReady');
    assert.ok(Number(f.headers['retry-after']) >= 1);

    // A stale URL with a non-running state must not be used either.
    h.table.planes.kv = { url: h.up.url, state: 'restarting', retry_at: Date.now() + 1000 };
    const p = await call(h.port, '/v1/kv/b/put', { method: 'PUT', body: Buffer.from('x') });
    envelope(p, 503, 'NotReady');
    assert.ok(Number(p.headers['retry-after']) >= 1);

    assert.equal(h.up.seen.length, 0, 'upstream was contacted');
  },
);

test(
  '10. an unreachable upstream (state running, closed port): 503 NotReady, not 500, no hang',
  T,
  async (t) => {
    const h = await setup(t);
    const dead = createHttpServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    h.table.planes.kv = { url: `http://127.0.0.1:${deadPort}`, state: 'running', retry_at: null };

    const started = Date.now();
    const g = await call(h.port, '/v1/kv/b/k');
    envelope(g, 503, 'NotReady');
    assert.ok(Number(g.headers['retry-after']) >= 1);
    const p = await call(h.port, '/v1/kv/b/put', { method: 'PUT', body: randomBytes(1000) });
    envelope(p, 503, 'NotReady');
    assert.ok(Number(p.headers['retry-after']) >= 1);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  },
);

test('11. unknown path → 404 NotFound envelope; GET /ingress/ping answers', T, async (t) => {
  const h = await setup(t);
  const r = await call(h.port, '/nope');
  envelope(r, 404, 'NotFound');
  assert.match(String(r.headers['x-request-id']), ULID);
  const withId = await call(h.port, '/nope', { headers: { 'x-request-id': 'nf-7' } });
  assert.equal(envelope(withId, 404, 'NotFound').request_id, 'nf-7');
  assert.equal(h.up.seen.length, 0);

  const ping = await call(h.port, '/ingress/ping');
  assert.equal(ping.status, 200);
  assert.match(String(ping.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(ping.body.toString()), {
    ok: true,
    service: 'svc-gateway',
    profile: 'macronode',
  });
  assert.match(String(ping.headers['x-request-id']), ULID);
});

test(
  '12. edge guards on proxied routes: Content-Encoding → 415, declared length over the cap → 413; upstream sees nothing',
  T,
  async (t) => {
    const h = await setup(t);
    const gz = await call(h.port, '/v1/kv/b/put', {
      method: 'PUT',
      body: Buffer.from('not really gzip'),
      headers: { 'content-encoding': 'gzip', 'content-type': 'application/octet-stream' },
    });
    envelope(gz, 415, 'UnsupportedEncoding');
    assert.equal(gz.headers['accept-encoding'], 'identity');

    h.table.limits = { max_body_bytes: 10, write_timeout: 2000 };
    const big = await call(h.port, '/v1/kv/b/put', { method: 'PUT', body: randomBytes(100) });
    envelope(big, 413, 'PayloadTooLarge');

    assert.equal(h.up.seen.length, 0, 'upstream was contacted');
    const text = await h.metrics.render();
    assert.equal(series(text, 'gateway_rejections_total', { reason: 'decode' })[0]?.value, 1);
    assert.equal(series(text, 'gateway_rejections_total', { reason: 'body_cap' })[0]?.value, 1);
  },
);

test(
  '13. concurrency: over maxInflight → 429 Busy at once; the budget is released on completion',
  T,
  async (t) => {
    const h = await setup(t, { maxInflight: 2 });
    // One GET (bodiless) and one PUT (with a body) in flight: both proxy paths draw on the budget.
    const a = call(h.port, '/v1/kv/hold/1');
    const b = call(h.port, '/v1/kv/hold/2', { method: 'PUT', body: Buffer.from('held') });
    await h.up.heldCount(2);

    const busy = await call(h.port, '/v1/kv/b/k');
    envelope(busy, 429, 'Busy');
    assert.ok(Number(busy.headers['retry-after']) >= 1);
    const busyPut = await call(h.port, '/v1/kv/b/put', { method: 'PUT', body: Buffer.from('x') });
    envelope(busyPut, 429, 'Busy');
    assert.equal(
      h.up.seen.filter((s) => !s.url.startsWith('/v1/kv/hold/')).length,
      0,
      'rejected request reached upstream',
    );

    h.up.releaseAll();
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.status, 200);
    assert.equal(rb.status, 200);
    assert.equal(ra.body.toString(), 'released');

    // More sequential requests than the budget: each must release its slot.
    for (let i = 0; i < 5; i++) assert.equal((await call(h.port, '/v1/kv/b/k')).status, 200, `GET #${i}`);

    // Error answers release their slot too (NotReady, unreachable).
    h.table.planes.kv = { url: null, state: 'backoff', retry_at: Date.now() + 2000 };
    for (let i = 0; i < 3; i++) assert.equal((await call(h.port, '/v1/kv/b/k')).status, 503);
    h.table.planes.kv = { url: h.up.url, state: 'running', retry_at: null };
    const again = await call(h.port, '/v1/kv/b/k');
    assert.equal(again.status, 200);
    assert.equal(again.body.toString(), 'value-of-k\n');
  },
);

test('14. metrics: requests counted by route template (never the raw path) and status', T, async (t) => {
  const h = await setup(t);
  const n = 3;
  for (let i = 0; i < n; i++) assert.equal((await call(h.port, '/v1/kv/b/k-unique-123')).status, 200);
  let text = await h.metrics.render();
  assert.ok(!text.includes('k-unique-123'), 'the raw key leaked into the metrics');
  // Prewarmed (zero) series may exist for other templates; exactly one series counted these requests.
  const ok = series(text, 'gateway_http_requests_total', { method: 'GET', status: '200' }).filter(
    (s) => s.value > 0,
  );
  assert.equal(ok.length, 1, `one non-zero GET 200 series: ${JSON.stringify(ok)}`);
  assert.ok(ok[0]!.labels.route!.startsWith('/v1/kv'), `route label ${ok[0]!.labels.route}`);
  const route = ok[0]!.labels.route!;
  assert.ok(ok[0]!.value >= n, `count ${ok[0]!.value} < ${n}`);
  assert.ok(!route.includes('/b/'), `route label ${route} is a raw path`);
  assert.ok(
    series(text, 'gateway_request_latency_seconds_count', { method: 'GET', route }).some((s) => s.value >= n),
    'latency histogram count for the route template',
  );

  // The body-carrying path counts under the same template.
  assert.equal(
    (await call(h.port, '/v1/kv/b/put', { method: 'PUT', body: Buffer.from('k-unique-123') })).status,
    201,
  );

  h.table.planes.kv = { url: null, state: 'backoff', retry_at: Date.now() + 3000 };
  assert.equal((await call(h.port, '/v1/kv/b/k-unique-123')).status, 503);
  assert.equal((await call(h.port, '/nope/k-unique-123')).status, 404);
  text = await h.metrics.render();
  assert.equal(
    series(text, 'gateway_http_requests_total', { method: 'PUT', route, status: '201' })[0]?.value,
    1,
  );
  assert.ok(!text.includes('k-unique-123'), 'the raw key leaked into the metrics');
  assert.equal(
    series(text, 'gateway_http_requests_total', { method: 'GET', route, status: '503' })[0]?.value,
    1,
  );
  assert.equal(
    series(text, 'gateway_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })[0]
      ?.value,
    1,
  );
});

test('15. a client aborting mid-response does not break the gateway', T, async (t) => {
  const h = await setup(t);
  // Plain GET of a slow upstream: the client gives up after 150 ms.
  await new Promise<void>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: h.port, path: '/v1/kv/slow/a', agent: false });
    req.on('error', () => resolve());
    req.on('response', (res) => res.on('error', () => undefined));
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => req.destroy(), 150);
  });
  const r1 = await call(h.port, '/v1/kv/b/k');
  assert.equal(r1.status, 200);
  assert.equal(r1.body.toString(), 'value-of-k\n');
  // Let the slow upstream answer finish (or be cut): the gateway must survive whatever it does then.
  await Promise.race([h.up.slowDone, new Promise((r) => setTimeout(r, 3000))]);

  t.diagnostic(
    `upstream side of the aborted GET: ${await Promise.race([h.up.slowDone, Promise.resolve('still open')])}`,
  );

  // Streamed GET (event-stream accept): abort after the first bytes arrived.
  const firstByte = new Promise<void>((resolve) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: h.port,
      path: '/v1/kv/slow/b',
      headers: { accept: 'text/event-stream' },
      agent: false,
    });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.on('error', () => undefined);
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.end();
  });
  await within(3000, 'first byte of the streamed slow answer', firstByte);
  await new Promise((r) => setTimeout(r, 200));
  const r2 = await call(h.port, '/v1/kv/b/k');
  assert.equal(r2.status, 200);
  assert.equal(r2.body.toString(), 'value-of-k\n');
  const ping = await call(h.port, '/ingress/ping');
  assert.equal(ping.status, 200);
});
