// /readyz renders its body only when a probe result changes (SPEC §1.1 truthful readiness): every
// flip must show on the very next request, in both directions, and shutdown always wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { HttpMetrics, Readiness, createServer, registerAdmin } from '../src/index.js';

test('/readyz follows every probe flip at once, though its body is cached between flips', async () => {
  const metrics = new HttpMetrics({
    requestsName: 'rz_http_requests_total',
    latencyName: 'rz_latency_seconds',
    rejectionsName: 'rz_rejections_total',
    defaultCollectors: false,
  });
  const app = createServer({ logger: pino({ level: 'silent' }), metrics });
  const readiness = new Readiness();
  const setStore = readiness.flag('store_open');
  let deps = true;
  readiness.probe('deps', () => deps);
  registerAdmin(app, {
    readiness,
    metrics,
    version: () => ({ v: 1 }),
    readyBody: (r) => ({ ready: r.ready, probes: r.probes, failing: r.failing }),
    readyBodyFromReportOnly: true,
  });
  const get = async (): Promise<{
    status: number;
    body: { ready: boolean; probes: Record<string, boolean>; failing: string[] };
    retry?: string;
  }> => {
    const r = await app.inject({ url: '/readyz' });
    return { status: r.statusCode, body: r.json(), retry: r.headers['retry-after'] };
  };
  const first = await get();
  assert.deepEqual(first, {
    status: 503,
    body: { ready: false, probes: { store_open: false, deps: true }, failing: ['store_open'] },
    retry: '5',
  });
  assert.deepEqual(await get(), first);
  setStore(true);
  assert.deepEqual(await get(), {
    status: 200,
    body: { ready: true, probes: { store_open: true, deps: true }, failing: [] },
    retry: undefined,
  });
  deps = false;
  const down = await get();
  assert.equal(down.status, 503);
  assert.deepEqual(down.body.failing, ['deps']);
  deps = true;
  assert.equal((await get()).status, 200);
  // A probe added later changes the shape: the cached body must not survive it.
  readiness.flag('late');
  assert.deepEqual((await get()).body.probes, { store_open: true, deps: true, late: false });
  readiness.markShuttingDown();
  const last = await get();
  assert.equal(last.status, 503);
  assert.ok(last.body.failing.includes('shutting_down'));
  // signature() and signatureOf(check()) agree for the same state.
  assert.equal(readiness.signature(), readiness.signatureOf(readiness.check()));
  await app.close();
});

test('without readyBodyFromReportOnly, /readyz renders every time (bodies may carry other state)', async () => {
  const metrics = new HttpMetrics({
    requestsName: 'rz2_http_requests_total',
    latencyName: 'rz2_latency_seconds',
    rejectionsName: 'rz2_rejections_total',
    defaultCollectors: false,
  });
  const app = createServer({ logger: pino({ level: 'silent' }), metrics });
  const readiness = new Readiness();
  readiness.flag('store_open', true);
  let degraded = false;
  registerAdmin(app, {
    readiness,
    metrics,
    version: () => ({}),
    readyBody: (r) => ({ ready: r.ready, degraded }),
  });
  assert.deepEqual((await app.inject({ url: '/readyz' })).json(), { ready: true, degraded: false });
  degraded = true;
  assert.deepEqual((await app.inject({ url: '/readyz' })).json(), { ready: true, degraded: true });
  await app.close();
});

test('a non-critical probe is reported but does not hold readiness down; criticality is read live', () => {
  let planeUp = false;
  let critical = false;
  const r = new Readiness()
    .probe('db', () => true)
    .probe('plane', () => planeUp, { critical: () => critical });
  let rep = r.check();
  assert.equal(rep.ready, true);
  assert.equal(rep.probes.plane, false, 'the failing probe is still reported');
  assert.deepEqual(rep.failing, []);
  const before = r.signature();
  assert.equal(r.signatureOf(rep), before);
  critical = true; // e.g. a reload made the plane critical
  rep = r.check();
  assert.equal(rep.ready, false);
  assert.deepEqual(rep.failing, ['plane']);
  assert.notEqual(r.signature(), before, 'a cached body for the old criticality is not reused');
  assert.equal(r.signatureOf(rep), r.signature());
  planeUp = true;
  assert.equal(r.check().ready, true);
  r.remove('plane');
  assert.equal(r.has('plane'), false);
  assert.deepEqual(Object.keys(r.check().probes), ['db']);
  r.markShuttingDown();
  assert.equal(r.check().ready, false, 'shutdown always wins');
});
