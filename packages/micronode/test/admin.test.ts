// SPEC §1.1 admin plane, §1.3 request ids and §1.5 / §3 metrics on the real process, plus truthful
// readiness observed in-process between build and store open.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Program } from '@ron/testkit';
import { assertEnvelope, inProcess, parseMetrics, sample, scrape, startNode } from './helpers.js';

describe('admin plane (real process)', () => {
  let node: Program;
  before(async () => {
    node = await startNode();
  });
  after(async () => {
    await node.stop();
  });

  test('/healthz and /livez answer identically with 200', async () => {
    const a = await fetch(`${node.url}/healthz`);
    const b = await fetch(`${node.url}/livez`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual(await a.json(), await b.json());
  });

  test('/readyz shape: {ready, probes:{listeners_bound,cfg_loaded,metrics_bound,deps_ok}, mode}', async () => {
    const r = await fetch(`${node.url}/readyz`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { ready: boolean; probes: Record<string, boolean>; mode: string };
    assert.equal(body.ready, true);
    assert.equal(body.mode, 'truthful');
    assert.deepEqual(Object.keys(body.probes).sort(), [
      'cfg_loaded',
      'deps_ok',
      'listeners_bound',
      'metrics_bound',
    ]);
    assert.ok(Object.values(body.probes).every((v) => v === true));
  });

  test('/version: {name:"micronode", version, built_at_unix}', async () => {
    const r = await fetch(`${node.url}/version`);
    assert.equal(r.status, 200);
    const v = (await r.json()) as { name: string; version: string; built_at_unix: number | null };
    assert.equal(v.name, 'micronode');
    assert.equal(typeof v.version, 'string');
    assert.ok(v.built_at_unix === null || Number.isInteger(v.built_at_unix));
  });

  test('/v1/ping → {"pong":true}', async () => {
    const r = await fetch(`${node.url}/v1/ping`);
    assert.deepEqual(await r.json(), { pong: true });
  });

  test('/metrics: Prometheus text 0.0.4 with default collectors', async () => {
    const r = await fetch(`${node.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    // Every metric of SPEC §3 is declared with HELP and TYPE.
    for (const name of [
      'micronode_http_requests_total',
      'micronode_request_latency_seconds',
      'micronode_rejections_total',
      'micronode_ready_inflight_current',
      'micronode_kv_ops_total',
      'micronode_kv_bytes_total',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} `, 'm'));
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  test('request id: a valid client id is echoed on success and error responses', async () => {
    const ok = await fetch(`${node.url}/healthz`, { headers: { 'x-request-id': 'client.id-1:abc_X' } });
    assert.equal(ok.headers.get('x-request-id'), 'client.id-1:abc_X');
    const id128 = 'a'.repeat(128);
    const nf = await fetch(`${node.url}/nope`, { headers: { 'x-request-id': id128 } });
    assert.equal(nf.status, 404);
    assert.equal(nf.headers.get('x-request-id'), id128);
    assertEnvelope(await nf.text(), 'NotFound', id128);
  });

  test('request id: invalid ids (129 chars, bad chars, empty) are replaced by a generated ULID', async () => {
    for (const bad of ['a'.repeat(129), 'has space', 'semi;colon', 'slash/', 'ünïcode']) {
      const r = await fetch(`${node.url}/v1/kv/BAD/k`, { headers: { 'x-request-id': bad } }).catch(
        () => undefined,
      );
      if (r === undefined) continue; // fetch refuses some header values outright; nothing reached the server
      const id = r.headers.get('x-request-id') ?? '';
      assert.notEqual(id, bad);
      assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/, `generated ULID for ${JSON.stringify(bad)}`);
      assertEnvelope(await r.text(), 'BadRequest', id);
    }
    const none = await fetch(`${node.url}/healthz`);
    assert.match(none.headers.get('x-request-id') ?? '', /^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  test('unknown route → 404 envelope; wrong method on a known path is not a 500', async () => {
    const r = await fetch(`${node.url}/v1/nothing-here`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 404);
    assertEnvelope(await r.text(), 'NotFound');
    const p = await fetch(`${node.url}/v1/ping`, { method: 'DELETE' });
    assert.ok(p.status >= 400 && p.status < 500);
  });
});

describe('metrics prewarmed and moving (real process)', () => {
  let node: Program;
  before(async () => {
    node = await startNode({ MICRONODE_DEV_ROUTES: '1' });
  });
  after(async () => {
    await node.stop();
  });

  test('series exist at 0 before the first request, move after, with route templates', async () => {
    // The very first request of this process is the scrape itself.
    const first = await scrape(node.url);
    assert.equal(sample(first, 'micronode_kv_ops_total', { op: 'put' }), 0);
    for (const op of ['get', 'head', 'put', 'del', 'list'])
      assert.equal(sample(first, 'micronode_kv_ops_total', { op }), 0);
    assert.equal(sample(first, 'micronode_kv_bytes_total', { dir: 'in' }), 0);
    assert.equal(sample(first, 'micronode_kv_bytes_total', { dir: 'out' }), 0);
    for (const reason of [
      'decode',
      'stacked_encoding',
      'length_required',
      'body_cap',
      'concurrency',
      'rate_limit',
      'timeout',
    ])
      assert.equal(sample(first, 'micronode_rejections_total', { reason }), 0, reason);
    assert.equal(sample(first, 'micronode_ready_inflight_current'), 0);
    const kvRoute = '/v1/kv/:bucket/:key';
    assert.equal(sample(first, 'micronode_http_requests_total', { method: 'PUT', route: kvRoute }), 0);
    assert.equal(sample(first, 'micronode_http_requests_total', { method: 'GET', route: kvRoute }), 0);
    assert.equal(sample(first, 'micronode_http_requests_total', { method: 'GET', route: '/healthz' }), 0);
    assert.equal(
      sample(first, 'micronode_request_latency_seconds_count', { method: 'GET', route: kvRoute }),
      0,
    );
    assert.equal(sample(first, 'micronode_http_requests_total', { route: 'unmatched' }), 0);

    const put = await fetch(`${node.url}/v1/kv/bkt/some%2Fraw%20key`, { method: 'PUT', body: 'hello' });
    assert.equal(put.status, 201);
    await fetch(`${node.url}/v1/kv/bkt/some%2Fraw%20key`).then((r) => r.arrayBuffer());
    await fetch(`${node.url}/does/not/exist`).then((r) => r.arrayBuffer());
    await fetch(`${node.url}/healthz`).then((r) => r.arrayBuffer());

    const text = await fetch(`${node.url}/metrics`).then((r) => r.text());
    const after = parseMetrics(text);
    assert.equal(sample(after, 'micronode_kv_ops_total', { op: 'put' }), 1);
    assert.equal(sample(after, 'micronode_kv_ops_total', { op: 'get' }), 1);
    assert.equal(sample(after, 'micronode_kv_bytes_total', { dir: 'in' }), 5);
    assert.equal(sample(after, 'micronode_kv_bytes_total', { dir: 'out' }), 5);
    assert.equal(
      sample(after, 'micronode_http_requests_total', { method: 'PUT', route: kvRoute, status: '201' }),
      1,
    );
    assert.equal(
      sample(after, 'micronode_http_requests_total', { method: 'GET', route: kvRoute, status: '200' }),
      1,
    );
    assert.equal(
      sample(after, 'micronode_http_requests_total', { method: 'GET', route: '/healthz', status: '200' }),
      1,
    );
    assert.equal(
      sample(after, 'micronode_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
      1,
    );
    assert.equal(
      sample(after, 'micronode_request_latency_seconds_count', { method: 'PUT', route: kvRoute }),
      1,
    );
    // The raw URL never becomes a label.
    assert.doesNotMatch(text, /raw%20key|\/does\/not\/exist|bkt/);
  });
});

describe('readiness', () => {
  test('truthful: 503 with Retry-After: 5 and the failing probes before the store opens, 200 after', async () => {
    const node = inProcess();
    try {
      const before = await node.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(before.statusCode, 503);
      assert.equal(before.headers['retry-after'], '5');
      const b = before.json<{ ready: boolean; probes: Record<string, boolean>; mode: string }>();
      assert.equal(b.ready, false);
      assert.equal(b.mode, 'truthful');
      assert.equal(b.probes.deps_ok, false);
      assert.equal(b.probes.cfg_loaded, true);
      // A KV request before the store opens is a 503 envelope, not a 500.
      const kv = await node.app.inject({ method: 'GET', url: '/v1/kv/b/k' });
      assert.equal(kv.statusCode, 503);
      assertEnvelope(kv.body, 'NotReady');
      assert.equal(kv.headers['retry-after'], '5');

      await node.openStore();
      node.markListening();
      const after = await node.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(after.statusCode, 200);
      assert.equal(after.json<{ ready: boolean }>().ready, true);

      node.readiness.markShuttingDown();
      const closing = await node.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(closing.statusCode, 503);
    } finally {
      await node.close(1000);
    }
  });

  test('dev-forced: MICRONODE_DEV_READY=1 → 200 and mode "dev-forced" even before the store opens', async () => {
    const node = inProcess({ MICRONODE_DEV_READY: '1' });
    try {
      const r = await node.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(r.statusCode, 200);
      const b = r.json<{ ready: boolean; mode: string; probes: Record<string, boolean> }>();
      assert.equal(b.ready, true);
      assert.equal(b.mode, 'dev-forced');
      assert.equal(b.probes.deps_ok, false, 'the real probe state is still reported');
    } finally {
      await node.close(1000);
    }
  });

  test('dev-forced on the real process reports mode dev-forced', async () => {
    const node = await startNode({ MICRONODE_DEV_READY: '1' });
    try {
      const r = await fetch(`${node.url}/readyz`);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { mode: string }).mode, 'dev-forced');
    } finally {
      await node.stop();
    }
  });
});
