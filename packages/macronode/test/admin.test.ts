import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sseConnect } from '@ron/testkit';
import { startNode, type TestNode } from './helpers.js';

describe('macronode admin plane and gateway (real process)', () => {
  let n: TestNode;
  before(async () => {
    n = await startNode({ args: ['--metrics-addr', '127.0.0.1:0'] });
  });
  after(async () => {
    const r = await n.stop();
    assert.equal(r.code, 0);
  });

  test('ready line names the admin url and the gateway url; startup log says how to try it', () => {
    assert.match(n.admin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(n.gateway, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(String(n.prog.ready.msg), /curl .*\/ingress\/ping/);
    assert.match(String(n.prog.ready.msg), /kv .*try: curl -X PUT/);
  });

  test('gateway: /ingress/ping and a KV round trip through the gateway, request id propagated', async () => {
    const ping = await fetch(`${n.gateway}/ingress/ping`);
    assert.deepEqual(await ping.json(), { ok: true, service: 'svc-gateway', profile: 'macronode' });
    const put = await fetch(`${n.gateway}/v1/kv/demo/k1`, {
      method: 'PUT',
      body: 'v1',
      headers: { 'x-request-id': 'trace-123' },
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('x-request-id'), 'trace-123');
    assert.match(put.headers.get('etag') ?? '', /^"b3:[0-9a-f]{64}"$/);
    const get = await fetch(`${n.gateway}/v1/kv/demo/k1`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'v1');
    const list = await fetch(`${n.gateway}/v1/kv/demo`);
    assert.deepEqual(((await list.json()) as { keys: string[] }).keys, ['k1']);
    const miss = await fetch(`${n.gateway}/v1/kv/demo/nope`);
    assert.equal(miss.status, 404);
  });

  test('gateway edge guards: stacked encoding 415, body over the cap 413', async () => {
    const enc = await fetch(`${n.gateway}/v1/kv/demo/k2`, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-encoding': 'gzip, br' },
    });
    assert.equal(enc.status, 415);
    const big = await fetch(`${n.gateway}/v1/kv/demo/k2`, {
      method: 'PUT',
      body: Buffer.alloc(1024 * 1024 + 1),
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'PayloadTooLarge');
  });

  test('/readyz, ?verbose, /readyz/<plane>, /healthz, /version', async () => {
    const r = await fetch(`${n.admin}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      ready: true,
      deps: {
        config: true,
        network: true,
        gateway: true,
        registry: true,
        kv: true,
        storage: true,
        index: true,
        mailbox: true,
      },
      mode: 'truthful',
    });
    const v = await (await fetch(`${n.admin}/readyz?verbose`)).text();
    assert.match(v, /^\[\+\]config ok$/m);
    assert.match(v, /^\[\+\]kv ok$/m);
    const one = await fetch(`${n.admin}/readyz/kv`);
    assert.equal(one.status, 200);
    assert.equal((await fetch(`${n.admin}/readyz/nope`)).status, 404);
    assert.deepEqual(await (await fetch(`${n.admin}/healthz`)).json(), {
      ok: true,
      checks: { event_loop: 'ok', clock: 'ok' },
    });
    const ver = (await (await fetch(`${n.admin}/version`)).json()) as Record<string, unknown>;
    assert.equal(ver.service, 'macronode');
    assert.deepEqual(ver.api, { http: 'v1' });
    for (const k of ['version', 'git_sha', 'build_ts', 'node', 'node_min'])
      assert.equal(typeof ver[k], 'string', k);
  });

  test('/api/v1/status names every plane with state, pid, restarts, uptime', async () => {
    const s = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
    assert.equal(s.profile, 'macronode');
    assert.equal(s.readiness.ready, true);
    assert.equal(s.addresses.gateway, n.gateway);
    assert.equal(s.services.kv.state, 'running');
    assert.equal(typeof s.services.kv.pid, 'number');
    assert.notEqual(s.services.kv.pid, n.prog.pid);
    assert.equal(s.services.kv.restarts, 0);
    assert.equal(s.services.gateway.state, 'running');
  });

  test('/metrics: supervisor series prewarmed for every plane', async () => {
    const text = await (await fetch(`${n.admin}/metrics`)).text();
    for (const s of [
      'service_restarts_total{service="registry"} 0',
      'service_restarts_total{service="kv"} 0',
      'service_up{service="kv"} 1',
      'bus_lagged_total{service="kv"} 0',
      'service_up{service="gateway"} 1',
    ])
      assert.ok(text.includes(s), s);
    assert.match(text, /^service_uptime_seconds\{service="kv"\} /m);
    assert.match(text, /^macronode_http_requests_total\{/m);
    // The optional separate metrics listener serves the same exposition.
    const s = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as { addresses: { metrics: string } };
    assert.match(s.addresses.metrics, /^http:\/\/127\.0\.0\.1:\d+$/);
    const m2 = await fetch(`${s.addresses.metrics}/metrics`);
    assert.equal(m2.status, 200);
    assert.match(m2.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.ok((await m2.text()).includes('service_up{service="kv"}'));
  });

  test('mutating routes are POST-only: 405 with Allow', async () => {
    for (const u of ['/api/v1/reload', '/api/v1/shutdown', '/api/v1/services/kv/reset']) {
      const r = await fetch(`${n.admin}${u}`);
      assert.equal(r.status, 405, u);
      assert.equal(r.headers.get('allow'), 'POST');
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'MethodNotAllowed');
    }
    const r = await fetch(`${n.admin}/api/v1/status`, { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
  });

  test('no token: a loopback POST is allowed (with a warning) even with a spoofed X-Forwarded-For', async () => {
    const r = await fetch(`${n.admin}/api/v1/reload`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(r.status, 200);
    const body = (await r.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['applied', 'restart_required', 'restarted', 'version']);
    await n.prog.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes('caller is on loopback'));
  });
});

describe('admin token (real process)', () => {
  let n: TestNode;
  before(async () => {
    n = await startNode({ env: { RON_ADMIN_TOKEN: 'tok-123' } });
  });
  after(async () => {
    await n.stop();
  });

  test('401 with WWW-Authenticate without or with a wrong token; 200 with it', async () => {
    const none = await fetch(`${n.admin}/api/v1/reload`, { method: 'POST' });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'Unauthorized');
    const wrong = await fetch(`${n.admin}/api/v1/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.status, 401);
    const ok = await fetch(`${n.admin}/api/v1/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok-123' },
    });
    assert.equal(ok.status, 200);
    // GET routes stay open to probes.
    assert.equal((await fetch(`${n.admin}/api/v1/status`)).status, 200);
  });

  test('a refused admin request is logged with its path, never its query string (a token put in a URL)', async () => {
    const r = await fetch(`${n.admin}/api/v1/reload?token=s3cret-in-query`, {
      method: 'POST',
      headers: { 'x-request-id': 'refused-q-1' },
    });
    assert.equal(r.status, 401);
    const line = await n.prog.waitForLine(
      (l) => l.msg === 'admin request refused' && l.request_id === 'refused-q-1',
    );
    assert.equal(line.path, '/api/v1/reload');
    assert.ok(
      !n.prog.lines.some((l) => JSON.stringify(l).includes('s3cret-in-query')),
      'the query never reaches the log',
    );
  });
});

describe('admin rate limit, dev-forced readiness and POST /api/v1/shutdown (real process)', () => {
  let n: TestNode;
  before(async () => {
    n = await startNode({
      env: { RON_LIMITS__ADMIN_RPS: '2', RON_LIMITS__ADMIN_BURST: '3', MACRONODE_DEV_READY: '1' },
    });
  });
  after(async () => {
    await n.stop();
  });

  test('admin routes carry a rate limit: 429 RateLimited with Retry-After past the burst', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${n.admin}/api/v1/status`);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
      else await r.arrayBuffer();
    }
    assert.ok(limited, `no 429 in ${statuses.join(',')}`);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'RateLimited');
  });

  test('MACRONODE_DEV_READY=1 reports mode dev-forced', async () => {
    await new Promise((r) => setTimeout(r, 1600)); // let the bucket refill
    const r = (await (await fetch(`${n.admin}/readyz`)).json()) as { ready: boolean; mode: string };
    assert.equal(r.ready, true);
    assert.equal(r.mode, 'dev-forced');
  });

  test('POST /api/v1/shutdown answers 202, emits Shutdown on the event stream, and the node exits 0', async () => {
    await new Promise((r) => setTimeout(r, 1600));
    const sse = await sseConnect(`${n.admin}/api/v1/events`);
    const r = await fetch(`${n.admin}/api/v1/shutdown`, { method: 'POST' });
    assert.equal(r.status, 202);
    await sse.next((e) => e.event === 'Shutdown');
    await sse.ended;
    const exit = await n.prog.exited;
    assert.equal(exit.code, 0);
  });
});
