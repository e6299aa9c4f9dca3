import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadMacronodeConfig } from '../../src/config.js';
import { planReload } from '../../src/reload.js';
import { backoffDelay } from '../../src/supervisor/backoff.js';

test('backoff: full jitter inside [min, min(max, min·2ⁿ)], capped', () => {
  fc.assert(
    fc.property(
      fc.nat(60),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 60_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (n, min, extra, r) => {
        const max = min + extra;
        const d = backoffDelay(n, min, max, () => r);
        assert.ok(d >= min && d <= Math.min(max, min * 2 ** Math.min(n, 30)), `${d}`);
      },
    ),
  );
  assert.equal(
    backoffDelay(0, 100, 30_000, () => 0.99),
    100,
  );
  assert.equal(
    backoffDelay(20, 100, 30_000, () => 1),
    30_000,
  );
});

const base = (env: Record<string, string> = {}) => loadMacronodeConfig({ env, flags: {} }).config;

test('reload plan: log level and limits live, addresses restart-required, plane settings restart only that plane', () => {
  const old = base();
  const next = base({
    RON_LOG: 'debug',
    RON_MAX_BODY_BYTES: '2MiB',
    RON_HTTP_ADDR: '127.0.0.1:9999',
    RON_KV__STORAGE_ENGINE: 'mem',
  });
  const p = planReload(old, next);
  assert.deepEqual(p.applied.sort(), ['kv.storage_engine', 'limits.max_body_bytes', 'log_level']);
  assert.deepEqual(p.restartRequired, ['http_addr']);
  assert.deepEqual(p.restarted, ['kv']);
  const q = planReload(old, base({ RON_SERVICES: '' }));
  assert.deepEqual(q.disable, ['registry', 'kv', 'storage', 'index', 'mailbox']);
  assert.deepEqual(planReload(old, base()), {
    applied: [],
    restarted: [],
    restartRequired: [],
    enable: [],
    disable: [],
  });
});

test('config: backoff cap must be shorter than the intensity window', () => {
  assert.throws(() => base({ RON_SUPERVISOR__BACKOFF_MAX: '2m' }), /supervisor\.backoff_max/);
});

test('reload plan: swapping TLS files is live, turning TLS on or off needs a restart', () => {
  const on = base({ RON_TLS__ADMIN__CERT: '/a.crt', RON_TLS__ADMIN__KEY: '/a.key' });
  const swapped = base({ RON_TLS__ADMIN__CERT: '/b.crt', RON_TLS__ADMIN__KEY: '/b.key' });
  assert.deepEqual(planReload(on, swapped).applied.sort(), ['tls.admin.cert', 'tls.admin.key']);
  assert.deepEqual(planReload(base(), on).restartRequired.sort(), ['tls.admin.cert', 'tls.admin.key']);
  assert.deepEqual(planReload(on, base()).restartRequired.sort(), ['tls.admin.cert', 'tls.admin.key']);
});

test('reload plan: a restart-required key keeps its running value and restarts no plane', () => {
  const p = planReload(base(), base({ RON_DATA_DIR: '/elsewhere' }));
  assert.deepEqual(p.restartRequired, ['data_dir']);
  assert.deepEqual(p.restarted, [], 'plane options derive from the running data_dir, so nothing restarts');
});
