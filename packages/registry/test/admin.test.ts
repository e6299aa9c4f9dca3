// Admin plane (SPEC §2.4), read-only and dev modes, prewarmed metrics, config layering (§2.6).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '@ron/kernel';
import { tempDir } from '@ron/testkit';
import { MemoryStore, generateKeyFile, loadRegistryConfig, type LogEntry } from '../src/index.js';
import { json, startTestRegistry, type ErrorBody } from './helpers.js';

const dir = tempDir('ron-registry-admin-');
after(() => dir.remove());

test('fresh registry: /healthz 200 empty, /readyz truthful and write_ready, /version shape', async () => {
  const r = await startTestRegistry();
  try {
    const h = await fetch(`${r.adminUrl}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(await h.text(), '');
    assert.equal((await fetch(`${r.adminUrl}/livez`)).status, 200);
    await r.audit.done;
    const ready = await fetch(`${r.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await json(ready), {
      ready: true,
      degraded: false,
      services_ok: true,
      queues_ok: true,
      write_ready: true,
      mode: 'truthful',
      audit: { state: 'ok', checked: 0, up_to: 0, ms: 0 },
    });
    const v = await json(await fetch(`${r.adminUrl}/version`));
    assert.equal(v.service, 'svc-registry');
    assert.deepEqual(v.schema, { registry: '1.0.0' });
    assert.deepEqual(v.deprecations, []);
    assert.equal(v.mode, 'truthful');
    for (const k of ['version', 'commit', 'built_at']) assert.equal(typeof v[k], 'string');
    // Default CORS is same-origin only: no Access-Control-* headers for any origin.
    const cross = await fetch(`${r.apiUrl}/registry/head`, { headers: { origin: 'https://other.example' } });
    assert.equal(cross.headers.get('access-control-allow-origin'), null);
  } finally {
    await r.close();
  }
});

test('metrics are prewarmed: every labelled series exists at zero before any traffic', async () => {
  const r = await startTestRegistry();
  try {
    const res = await fetch(`${r.adminUrl}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const line of [
      'registry_commits_total{result="ok"} 0',
      'registry_commits_total{result="no_quorum"} 0',
      'registry_commits_total{result="bad_signature"} 0',
      'registry_commits_total{result="invalid"} 0',
      'registry_commits_total{result="read_only"} 0',
      'registry_update_total{result="applied"} 0',
      'registry_update_total{result="rejected"} 0',
      'registry_update_total{result="invalid_sig"} 0',
      'registry_descriptors_total{state="published"} 0',
      'registry_descriptors_total{state="deprecated"} 0',
      'registry_head_version 0',
      'registry_sse_clients 0',
      'registry_sse_clients_connected_total 0',
      'registry_sse_clients_disconnected_total 0',
      'registry_sse_dropped_total 0',
      'bus_lagged_total 0',
      'registry_commit_latency_seconds_count 0',
      'rejected_total{reason="body_cap"} 0',
      'rejected_total{reason="timeout"} 0',
      'rejected_total{reason="read_only"} 0',
      'rejected_total{reason="too_many_streams"} 0',
      'requests_total{method="POST",route="/registry/commit",status="200"} 0',
      'requests_total{method="GET",route="/registry/head",status="200"} 0',
      'request_latency_seconds_count{method="GET",route="/registry/head"} 0',
    ])
      assert.ok(text.includes(line), `missing prewarmed ${line}`);
  } finally {
    await r.close();
  }
});

test('--read-only: writes are 503 ReadOnly with Retry-After, reads continue, readiness says write_ready false', async () => {
  const r = await startTestRegistry({ REGISTRY_READ_ONLY: 'true' });
  try {
    const res = await r.commit('b3:ro');
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
    assert.equal((await json<ErrorBody>(res)).error.code, 'ReadOnly');
    assert.equal((await fetch(`${r.apiUrl}/registry/head`)).status, 200);
    const ready = await json(await fetch(`${r.adminUrl}/readyz`));
    assert.equal(ready.ready, true);
    assert.equal(ready.write_ready, false);
    const m = await (await fetch(`${r.adminUrl}/metrics`)).text();
    assert.match(m, /^rejected_total\{reason="read_only"\} 1$/m);
  } finally {
    await r.close();
  }
});

test('dev mode: mode "dev", unsigned writes accepted on loopback and signed by the process key, permissive CORS', async () => {
  const r = await startTestRegistry({ REGISTRY_DEV: '1', SIGNER_ALLOWLIST: '', SIG_THRESHOLD: '1' });
  try {
    assert.equal((await json(await fetch(`${r.adminUrl}/version`))).mode, 'dev');
    assert.equal((await json(await fetch(`${r.adminUrl}/readyz`))).mode, 'dev');
    const res = await r.post({ payload_b3: 'b3:dev' });
    assert.equal(res.status, 200);
    const e = await json<{ signatures: { signer_id: string }[] }>(await fetch(`${r.apiUrl}/registry/1`));
    assert.equal(e.signatures[0]?.signer_id, r.devKey?.signer_id);
    const c = await fetch(`${r.apiUrl}/registry/head`, { headers: { origin: 'http://anything.example' } });
    assert.equal(c.headers.get('access-control-allow-origin'), 'http://anything.example');
  } finally {
    await r.close();
  }
});

test('dev mode with any non-loopback listener: starts, but unsigned writes are refused (412) and nothing is appended; signed writes still work', async () => {
  // SPEC §2.1: unsigned writes are accepted "only when every listener is on loopback" — so the API
  // plane and the admin plane are each tried on a wildcard (non-loopback) address.
  const variants: Record<string, string>[] = [{ REGISTRY_ADDR: '0.0.0.0:0' }, { METRICS_ADDR: '0.0.0.0:0' }];
  for (const env of variants) {
    const r = await startTestRegistry({
      REGISTRY_DEV: '1',
      SIGNER_ALLOWLIST: '',
      SIG_THRESHOLD: '1',
      ...env,
    });
    try {
      const api = r.apiUrl.replace('0.0.0.0', '127.0.0.1');
      const admin = r.adminUrl.replace('0.0.0.0', '127.0.0.1');
      assert.equal((await json(await fetch(`${admin}/version`))).mode, 'dev');
      for (const body of [{ payload_b3: 'b3:unsigned' }, { payload_b3: 'b3:unsigned', signatures: [] }]) {
        const res = await fetch(`${api}/registry/commit`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 412, JSON.stringify(env));
        assert.equal((await json<ErrorBody>(res)).error.code, 'NoQuorum');
      }
      assert.equal(r.registry.head.version, 0);
      // The process-held dev key is still an allow-listed signer (threshold 1).
      const sig = r.sign('b3:signed', 1, r.devKey!);
      const ok = await fetch(`${api}/registry/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload_b3: 'b3:signed', signatures: [sig] }),
      });
      assert.equal(ok.status, 200);
      assert.equal(r.registry.head.version, 1);
    } finally {
      await r.close();
    }
  }
});

test('the admin plane accepts and echoes x-corr-id as an alias of x-request-id (SPEC §1.3)', async () => {
  const r = await startTestRegistry();
  try {
    for (const path of ['/healthz', '/readyz', '/version', '/metrics', '/nope']) {
      const res = await fetch(`${r.adminUrl}${path}`, { headers: { 'x-corr-id': 'corr-42' } });
      assert.equal(res.headers.get('x-request-id'), 'corr-42', path);
      assert.equal(res.headers.get('x-corr-id'), 'corr-42', path);
      await res.arrayBuffer();
    }
    const nf = await fetch(`${r.adminUrl}/nope`, { headers: { 'x-corr-id': 'corr-43' } });
    assert.equal((await json<ErrorBody>(nf)).error.request_id, 'corr-43');
  } finally {
    await r.close();
  }
});

test('shutdown flips readiness to 503 before the listeners close', async () => {
  const r = await startTestRegistry();
  r.readiness.markShuttingDown();
  const res = await fetch(`${r.adminUrl}/readyz`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  await r.close();
});

test('config layers: defaults < TOML file < env (incl. nested REGISTRY_<SECTION>__<KEY>) < flags', () => {
  const k = [generateKeyFile(), generateKeyFile()];
  const file = join(dir.path, 'registry.toml');
  writeFileSync(
    file,
    `registry_id = "from-file"\n[sse]\nheartbeat_ms = "2s"\nmax_clients = 7\n[limits]\nmax_request_bytes = "32KiB"\n[governance]\nthreshold = 2\nsigners = ["${k[0]!.signer_id}", "${k[1]!.signer_id}"]\n[cors]\nallowed_origins = ["https://a.example"]\n`,
  );
  const { config, sources } = loadRegistryConfig({
    env: { REGISTRY_CONFIG: file, REGISTRY_SSE__MAX_CLIENTS: '9', REGISTRY_ID: 'from-env' },
    flags: { bind: '127.0.0.1:1234' },
  });
  assert.equal(config['sse.heartbeat_ms'], 2000);
  assert.equal(config['sse.max_clients'], 9);
  assert.equal(sources['sse.max_clients'].origin, 'REGISTRY_SSE__MAX_CLIENTS');
  assert.equal(config.registry_id, 'from-env');
  assert.equal(config['limits.max_request_bytes'], 32 * 1024);
  assert.equal(config['governance.threshold'], 2);
  assert.deepEqual(config['cors.allowed_origins'], ['https://a.example']);
  assert.equal(config['bind.api'], '127.0.0.1:1234');
  assert.equal(sources['bind.api'].layer, 'flag');
  assert.equal(config['bind.admin'], '127.0.0.1:9909');
});

test('config errors: threshold above the allow-list, bad signer ids, unknown keys, an unparsable postgres URL — all listed at once', () => {
  assert.throws(
    () =>
      loadRegistryConfig({
        env: {
          SIG_THRESHOLD: '3',
          SIGNER_ALLOWLIST: `${generateKeyFile().signer_id},ed25519:junk`,
          REGISTRY_DB: 'postgres://x/y',
          REGISTRY_BOGUS__KEY: '1',
        },
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const keys = e.issues.map((i) => i.key);
      assert.ok(keys.includes('bogus.key'), keys.join());
      return true;
    },
  );
  assert.throws(
    () =>
      loadRegistryConfig({
        env: {
          SIG_THRESHOLD: '3',
          SIGNER_ALLOWLIST: `${generateKeyFile().signer_id},ed25519:junk`,
          REGISTRY_DB: 'postgres://x:notaport/y',
        },
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const keys = e.issues.map((i) => i.key).sort();
      assert.deepEqual(keys, ['db', 'governance.signers', 'governance.threshold']);
      assert.match(e.message, /sig_threshold 3 exceeds the 2 allow-listed signers/);
      return true;
    },
  );
  assert.throws(() => loadRegistryConfig({ env: {} }), /governance\.threshold/);
  // The message names the rule itself (SPEC §2.1: 1 ≤ threshold ≤ |allow-list|), whichever side broke.
  assert.throws(
    () => loadRegistryConfig({ env: {} }),
    /governance\.threshold: .*rule: 1 ≤ threshold ≤ \|allow-list\|/,
  );
  assert.throws(
    () => loadRegistryConfig({ env: { SIG_THRESHOLD: '0', SIGNER_ALLOWLIST: generateKeyFile().signer_id } }),
    /governance\.threshold: .*rule: 1 ≤ threshold ≤ \|allow-list\|/,
  );
  assert.throws(
    () => loadRegistryConfig({ env: { SIG_THRESHOLD: '0', REGISTRY_DEV: '1' } }),
    /governance\.threshold/,
  );
});

test('--uds also serves the API plane on a unix socket', async () => {
  const { request } = await import('node:http');
  const sock = join(dir.path, 'registry.sock');
  const r = await startTestRegistry({ REGISTRY_UDS: sock });
  try {
    assert.equal(r.udsUrl, `unix:${sock}`);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: sock, path: '/registry/head' }, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (s += d));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal((JSON.parse(body) as { version: number }).version, 0);
  } finally {
    await r.close();
  }
});

/** A memory store whose appends can be made to fail (a full or broken disk). */
class FlakyStore extends MemoryStore {
  failing = false;
  override append(e: LogEntry): Promise<void> {
    return this.failing
      ? Promise.reject(new Error('SQLITE_FULL: database or disk is full'))
      : super.append(e);
  }
}

test('a failing store: commit is 503 StoreUnavailable and not applied; readiness stays up with degraded and write_ready false; recovery clears it', async () => {
  const store = new FlakyStore();
  const r = await startTestRegistry({}, { threshold: 1, store });
  try {
    assert.equal((await r.commit('b3:one')).status, 200);
    store.failing = true;
    const res = await r.commit('b3:two');
    assert.equal(res.status, 503);
    const body = await json<ErrorBody>(res);
    assert.equal(body.error.code, 'StoreUnavailable');
    assert.doesNotMatch(body.error.message, /SQLITE|disk/);
    assert.equal(r.registry.head.version, 1);
    const ready = await fetch(`${r.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    const rb = await json(ready);
    assert.equal(rb.degraded, true);
    assert.equal(rb.write_ready, false);
    assert.equal((await fetch(`${r.apiUrl}/registry/1`)).status, 200);
    store.failing = false;
    const ok = await r.commit('b3:two');
    assert.equal(ok.status, 200);
    assert.equal((await json<{ version: number }>(ok)).version, 2);
    const after = await json(await fetch(`${r.adminUrl}/readyz`));
    assert.equal(after.degraded, false);
    assert.equal(after.write_ready, true);
    const m = await (await fetch(`${r.adminUrl}/metrics`)).text();
    assert.match(m, /^registry_commits_total\{result="store_error"\} 1$/m);
  } finally {
    await r.close();
  }
});
