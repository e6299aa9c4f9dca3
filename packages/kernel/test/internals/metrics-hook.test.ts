// The metrics fast path relies on two things outside our code: prom-client's (undocumented)
// `Histogram.prototype.getForPromString`, which the registry calls to render a histogram and
// `LatencyHistogram` extends, and node's TickObject allocation, whose hidden class
// `pinTickObjectShape` keeps alive. prom-client is pinned to an exact version in
// packages/kernel/package.json; these tests fail first if an upgrade moves either hook.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { test } from 'node:test';
import { Histogram } from 'prom-client';
import { HttpMetrics } from '../../src/metrics.js';
import { pinTickObjectShape } from '../../src/internal/tick-shape.js';

test('prom-client still renders histograms through Histogram.prototype.getForPromString', () => {
  const proto = Histogram.prototype as unknown as Record<string, unknown>;
  assert.equal(typeof proto.getForPromString, 'function');
});

test('fast route series appear in the exposition with cumulative buckets, sum and count', async () => {
  const m = new HttpMetrics({
    requestsName: 'hook_http_requests_total',
    latencyName: 'hook_request_latency_seconds',
    rejectionsName: 'hook_rejections_total',
    defaultCollectors: false,
  });
  const r = m.route('GET', '/v1/thing/:id');
  r.status(200).inc();
  r.status(200).inc();
  r.status(404).inc();
  r.latency.observe(0.0004);
  r.latency.observe(0.0004);
  r.latency.observe(100); // past every bucket: only +Inf counts it
  const text = await m.registry.metrics();
  const line = (name: string, labels: string): number => {
    const re = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm');
    const got = re.exec(text);
    assert.ok(got, `${name}{${labels}} missing from:\n${text}`);
    return Number(got[1]);
  };
  assert.equal(line('hook_http_requests_total', 'method="GET",route="/v1/thing/:id",status="200"'), 2);
  assert.equal(line('hook_http_requests_total', 'method="GET",route="/v1/thing/:id",status="404"'), 1);
  assert.equal(line('hook_request_latency_seconds_count', 'method="GET",route="/v1/thing/:id"'), 3);
  assert.ok(
    Math.abs(line('hook_request_latency_seconds_sum', 'method="GET",route="/v1/thing/:id"') - 100.0008) <
      1e-9,
  );
  assert.equal(
    line('hook_request_latency_seconds_bucket', 'le="\\+Inf",method="GET",route="/v1/thing/:id"'),
    3,
  );
  // Cumulative: every finite bucket at or above 0.0004 s holds the two fast observations.
  const finite = [
    ...text.matchAll(
      /^hook_request_latency_seconds_bucket\{le="([0-9.e+-]+)",method="GET",route="\/v1\/thing\/:id"\} (\S+)$/gm,
    ),
  ];
  assert.ok(finite.length > 3, 'finite buckets rendered');
  for (const [, le, v] of finite) assert.equal(Number(v), Number(le) >= 0.0004 ? 2 : 0, `bucket le=${le}`);
  // The prom-client view (get()) folds the route labels in, as prom-client's own histograms do.
  const json = await m.registry.getMetricsAsJSON();
  const h = json.find((x) => x.name === 'hook_request_latency_seconds');
  const values = (h?.values ?? []) as unknown as {
    labels: Record<string, string>;
    metricName?: string;
    value: number;
  }[];
  assert.ok(
    values.some(
      (v) =>
        v.labels.route === '/v1/thing/:id' &&
        v.metricName === 'hook_request_latency_seconds_count' &&
        v.value === 3,
    ),
  );
});

test('pinTickObjectShape is idempotent and leaves nextTick working', async () => {
  let ticks = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'TickObject') ticks++;
    },
  });
  hook.enable();
  pinTickObjectShape();
  pinTickObjectShape();
  hook.disable();
  assert.ok(ticks <= 1, `a second call schedules nothing more (saw ${ticks} TickObjects)`);
  // nextTick keeps working after the hook was enabled and disabled.
  await new Promise<void>((resolve) => process.nextTick(resolve));
});
