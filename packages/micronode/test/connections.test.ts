// SPEC §1.3a on the real micronode process, with raw sockets: pipelined requests take effect in
// order and every answer is sent; parser refusals are counted; SIGTERM under keep-alive load leaves
// no request without an answer.
import assert from 'node:assert/strict';
import { describe, test, before, after } from 'node:test';
import { KeepAliveLoad, rawExchange, type Program } from '@ron/testkit';
import { parseMetrics, portOf, sample, startNode } from './helpers.js';

const put = (path: string, body: string): string =>
  `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const req = (method: string, path: string): string => `${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe('pipelining and refusals (real process)', () => {
  let node: Program;
  let port: number;
  before(async () => {
    node = await startNode();
    port = portOf(node.url);
  });
  after(async () => {
    await node.stop();
  });

  test('PUT then GET in one write: 201, then 200 with the value', async () => {
    const { responses } = await rawExchange(port, put('/v1/kv/pipe/k', 'abc') + req('GET', '/v1/kv/pipe/k'), {
      count: 2,
    });
    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 200],
    );
    assert.equal(responses[1]!.body, 'abc');
  });

  test('PUT then DELETE in one write: 201, 204, and the key is gone', async () => {
    const { responses } = await rawExchange(
      port,
      put('/v1/kv/pipe/z', 'abc') + req('DELETE', '/v1/kv/pipe/z'),
      { count: 2 },
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 204],
    );
    assert.equal((await fetch(`${node.url}/v1/kv/pipe/z`)).status, 404);
  });

  test('a PUT with a short lying Content-Length, then more bytes: its 201, then the 400, then close', async () => {
    const { responses, closed } = await rawExchange(
      port,
      `${put('/v1/kv/pipe/lie', 'abc')}defgh and more\r\n\r\n`,
      { count: 2, waitClose: true },
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 400],
    );
    assert.equal(responses[1]!.headers.connection, 'close');
    assert.ok(closed);
    const stored = await fetch(`${node.url}/v1/kv/pipe/lie`);
    assert.equal(await stored.text(), 'abc');
  });

  test('requests refused by the HTTP parser (400, 431) are counted under route="unmatched" and as rejections', async () => {
    const before = parseMetrics(await (await fetch(`${node.url}/metrics`)).text());
    const label = (status: string) => ({ method: 'unknown', route: 'unmatched', status });
    assert.equal(sample(before, 'micronode_http_requests_total', label('408')), 0, 'prewarmed');
    const bad = await rawExchange(port, 'GARBAGE\r\n\r\n', { count: 1 });
    assert.equal(bad.responses[0]?.status, 400);
    const big = await rawExchange(
      port,
      `GET /v1/ping HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      { count: 1 },
    );
    assert.equal(big.responses[0]?.status, 431);
    const after = parseMetrics(await (await fetch(`${node.url}/metrics`)).text());
    const delta = (name: string, labels: Record<string, string>): number =>
      (sample(after, name, labels) ?? NaN) - (sample(before, name, labels) ?? NaN);
    assert.equal(delta('micronode_http_requests_total', label('400')), 1);
    assert.equal(delta('micronode_http_requests_total', label('431')), 1);
    assert.equal(delta('micronode_rejections_total', { reason: 'malformed' }), 1);
    assert.equal(delta('micronode_rejections_total', { reason: 'headers_too_large' }), 1);
  });
});

test('SIGTERM under load from 8 keep-alive clients: every request sent gets an answer (3 runs)', async () => {
  for (let run = 1; run <= 3; run++) {
    const node = await startNode();
    try {
      await fetch(`${node.url}/v1/kv/drain/k`, { method: 'PUT', body: 'v' });
      const load = new KeepAliveLoad({
        port: portOf(node.url),
        clients: 8,
        request: req('GET', '/v1/kv/drain/k'),
      });
      await load.answered(160);
      node.proc.kill('SIGTERM');
      const stats = await load.done;
      const exit = await node.exited;
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
      await node.stop('SIGKILL');
    }
  }
});
