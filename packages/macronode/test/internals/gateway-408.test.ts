// SPEC §1.3a: a 408 always closes the connection — also one the gateway forwards from a plane (the
// plane's own `Connection: close` is hop-by-hop and not forwarded), on the raw fast path (bodiless
// GET) and on the Fastify proxy (a body the plane stopped reading).
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { HttpMetrics, createLogger } from '@ron/kernel';
import { openSocket, parseRawResponse } from '@ron/testkit';
import { createGateway, type RouteTable } from '../../src/planes/gateway/proxy.js';

test(
  'a plane answering 408 (bodiless GET on the fast path, or a PUT whose body it stopped reading): the gateway closes the client connection',
  { timeout: 20_000 },
  async () => {
    // A plane that times every request out at once, without reading a body, and closes like micronode.
    const upstream = createHttpServer((_req, res) => {
      res
        .writeHead(408, { 'content-type': 'application/json', connection: 'close', 'content-length': '2' })
        .end('{}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const table: RouteTable = {
      planes: {
        kv: {
          url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
          state: 'running',
          retry_at: null,
        },
      },
      prefixes: { '/v1/kv': 'kv' },
      limits: { max_body_bytes: 1 << 20, write_timeout: 5000 },
    };
    const metrics = new HttpMetrics({
      requestsName: 'g_http_requests_total',
      latencyName: 'g_latency_seconds',
      rejectionsName: 'g_rejections_total',
      defaultCollectors: false,
    });
    const gw = createGateway({
      logger: createLogger('gw', 'silent'),
      metrics,
      routes: () => table,
      idleTimeoutMs: 60_000,
      readTimeoutMs: 60_000,
      maxInflight: 0,
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (gw.app.server.address() as AddressInfo).port;
    // Resolves once the gateway closed the connection (the test's timeout catches one left open).
    const exchange = async (data: string): Promise<{ raw: string }> => {
      const sock = await openSocket(port, data);
      let raw = '';
      sock.on('data', (d: Buffer) => (raw += d.toString('latin1')));
      await new Promise<void>((r) => sock.once('close', () => r()));
      return { raw };
    };
    try {
      // Fast path: a bodiless GET.
      const get = await exchange('GET /v1/kv/b/k HTTP/1.1\r\nHost: x\r\n\r\n');
      const g = parseRawResponse(get.raw);
      assert.equal(g.status, 408, get.raw);
      assert.equal(g.headers.connection, 'close');
      // Fastify proxy: half a body; the plane answers without waiting for the rest, which never comes.
      const put = await exchange('PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
      const p = parseRawResponse(put.raw);
      assert.equal(p.status, 408, put.raw);
      assert.equal(p.headers.connection, 'close');
    } finally {
      await gw.app.close();
      await gw.close();
      upstream.close();
    }
  },
);
