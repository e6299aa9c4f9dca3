// SPEC §1.3a on the real macronode, with raw sockets: pipelined requests through the gateway (its raw
// fast path and its Fastify routes) and on the admin listener take effect in order and every answer
// is sent; parser and header-timeout refusals are counted; SIGTERM under keep-alive load through the
// gateway leaves no request without an answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KeepAliveLoad, rawExchange } from '@ron/testkit';
import { startNode, type TestNode } from './helpers.js';

const put = (path: string, body: string): string =>
  `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const req = (method: string, path: string): string => `${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
const portOf = (url: string): number => Number(new URL(url).port);

/** Every `name{…} value` line of the admin's /metrics whose labels include `want`, summed. */
async function metric(admin: string, name: string, want: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  let sum = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const lm of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    if (Object.entries(want).every(([k, v]) => labels[k] === v))
      sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[2]);
  }
  return sum;
}

describe('pipelining and refusals (real process)', () => {
  let n: TestNode;
  let gw: number;
  before(async () => {
    n = await startNode({ env: { RON_READ_TIMEOUT: '1s' } });
    gw = portOf(n.gateway);
  });
  after(async () => {
    await n.stop();
  });

  test('gateway: PUT then GET (raw fast path) in one write → 201, 200 with the value', async () => {
    const { responses } = await rawExchange(gw, put('/v1/kv/pipe/k', 'abc') + req('GET', '/v1/kv/pipe/k'), {
      count: 2,
    });
    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 200],
    );
    assert.equal(responses[1]!.body, 'abc');
  });

  test('gateway: PUT then DELETE in one write → 201, 204, and the key is gone', async () => {
    const { responses } = await rawExchange(
      gw,
      put('/v1/kv/pipe/z', 'abc') + req('DELETE', '/v1/kv/pipe/z'),
      { count: 2 },
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 204],
    );
    assert.equal((await fetch(`${n.gateway}/v1/kv/pipe/z`)).status, 404);
  });

  test('gateway: a PUT with a short lying Content-Length, then more bytes → its 201, then the 400, then close', async () => {
    const { responses, closed } = await rawExchange(
      gw,
      `${put('/v1/kv/pipe/lie', 'abc')}defgh and more\r\n\r\n`,
      { count: 2, waitClose: true },
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 400],
    );
    assert.equal(responses[1]!.headers.connection, 'close');
    assert.ok(closed);
    assert.equal(await (await fetch(`${n.gateway}/v1/kv/pipe/lie`)).text(), 'abc');
  });

  test('admin: pipelined GETs then garbage → every answer in order, then the 400', async () => {
    const { responses } = await rawExchange(
      portOf(n.admin),
      `${req('GET', '/healthz')}${req('GET', '/version')}NOT HTTP\r\n\r\n`,
      { count: 3, waitClose: true },
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 400],
    );
    assert.match(responses[0]!.body, /"ok":true/);
    assert.match(responses[1]!.body, /"service":"macronode"/);
  });

  test('refusals by the parser (400, 431) and the header timeout (408) are counted for the gateway and the admin plane', async () => {
    const un = (status: string) => ({ method: 'unknown', route: 'unmatched', status });
    const before = {
      g400: await metric(n.admin, 'gateway_http_requests_total', un('400')),
      g408: await metric(n.admin, 'gateway_http_requests_total', un('408')),
      g431: await metric(n.admin, 'gateway_http_requests_total', un('431')),
      a400: await metric(n.admin, 'macronode_http_requests_total', un('400')),
      gMalformed: await metric(n.admin, 'gateway_rejections_total', { reason: 'malformed' }),
      gTimeout: await metric(n.admin, 'gateway_rejections_total', { reason: 'read_timeout' }),
      aMalformed: await metric(n.admin, 'macronode_rejections_total', { reason: 'malformed' }),
    };
    assert.equal(before.g408, 0, 'prewarmed');
    assert.equal((await rawExchange(gw, 'GARBAGE\r\n\r\n', { count: 1 })).responses[0]?.status, 400);
    const big = `GET /ingress/ping HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`;
    assert.equal((await rawExchange(gw, big, { count: 1 })).responses[0]?.status, 431);
    // Headers never finished: 408 after read_timeout, and the connection is closed.
    const slow = await rawExchange(gw, 'GET /ingress/ping HTTP/1.1\r\nHost: x\r\n', {
      count: 1,
      waitClose: true,
    });
    assert.equal(slow.responses[0]?.status, 408);
    assert.equal(slow.responses[0]?.headers.connection, 'close');
    assert.ok(slow.closed);
    assert.equal(
      (await rawExchange(portOf(n.admin), 'GARBAGE\r\n\r\n', { count: 1 })).responses[0]?.status,
      400,
    );
    assert.equal((await metric(n.admin, 'gateway_http_requests_total', un('400'))) - before.g400, 1);
    assert.equal((await metric(n.admin, 'gateway_http_requests_total', un('431'))) - before.g431, 1);
    assert.equal((await metric(n.admin, 'gateway_http_requests_total', un('408'))) - before.g408, 1);
    assert.equal(
      (await metric(n.admin, 'gateway_rejections_total', { reason: 'malformed' })) - before.gMalformed,
      1,
    );
    assert.equal(
      (await metric(n.admin, 'gateway_rejections_total', { reason: 'read_timeout' })) - before.gTimeout,
      1,
    );
    assert.equal((await metric(n.admin, 'macronode_http_requests_total', un('400'))) - before.a400, 1);
    assert.equal(
      (await metric(n.admin, 'macronode_rejections_total', { reason: 'malformed' })) - before.aMalformed,
      1,
    );
  });
});

test('SIGTERM under load from 8 keep-alive clients through the gateway: every request sent gets an answer (3 runs)', async () => {
  for (let run = 1; run <= 3; run++) {
    const n = await startNode();
    try {
      assert.equal((await fetch(`${n.gateway}/v1/kv/drain/k`, { method: 'PUT', body: 'v' })).status, 201);
      const load = new KeepAliveLoad({
        port: portOf(n.gateway),
        clients: 8,
        request: req('GET', '/v1/kv/drain/k'),
      });
      await load.answered(160);
      n.prog.proc.kill('SIGTERM');
      const stats = await load.done;
      const exit = await n.prog.exited;
      assert.equal(exit.code, 0, `run ${run}`);
      assert.deepEqual(stats.unanswered, [], `run ${run}: ${JSON.stringify(stats)}`);
      assert.equal(stats.malformed, 0);
      // Answers after SIGTERM told the clients to go (Connection: close): 200s, or 503 NotReady.
      assert.ok(stats.closeAnswers > 0, `run ${run}: ${JSON.stringify(stats)}`);
      assert.deepEqual(
        Object.keys(stats.statuses).filter((s) => s !== '200' && s !== '503'),
        [],
      );
    } finally {
      await n.stop();
    }
  }
});
