import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sseConnect, tempDir, waitFor } from '@ron/testkit';
import { planeStatus, startNode } from './helpers.js';

interface Status {
  config_version: number;
  log_level: string;
  addresses: { admin: string };
  last_reload: { ok: boolean; error?: string; source: string } | null;
}

test('reload: live keys applied, a plane setting restarts only that plane, a bad file changes nothing (400), SIGHUP takes the same path', async () => {
  const dir = tempDir('macronode-reload-');
  const file = join(dir.path, 'macronode.toml');
  writeFileSync(file, 'log_level = "info"\n');
  // spawnProgram sets LOG_LEVEL=info, which (env beats file) would mask the file's log_level.
  const n = await startNode({ args: ['--config', file], env: { LOG_LEVEL: undefined } });
  const sse = await sseConnect(`${n.admin}/api/v1/events`);
  const status = async (): Promise<Status> =>
    (await (await fetch(`${n.admin}/api/v1/status`)).json()) as Status;
  const reload = (): Promise<Response> => fetch(`${n.admin}/api/v1/reload`, { method: 'POST' });
  try {
    // 1. A live key.
    writeFileSync(file, 'log_level = "debug"\n');
    let r = await reload();
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      version: 2,
      applied: ['log_level'],
      restarted: [],
      restart_required: [],
    });
    const ev = await sse.next((e) => e.event === 'ConfigUpdated');
    assert.equal((JSON.parse(ev.data) as { version: number }).version, 2);
    assert.equal((await status()).log_level, 'debug');

    // 2. A plane setting: only kv restarts (new pid), and it is ready again.
    const pid1 = (await planeStatus(n.admin, 'kv')).pid;
    writeFileSync(file, 'log_level = "debug"\n[kv]\nstorage_engine = "mem"\n');
    r = await reload();
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      version: 3,
      applied: ['kv.storage_engine'],
      restarted: ['kv'],
      restart_required: [],
    });
    await waitFor(async () => (await planeStatus(n.admin, 'kv')).state === 'running', 10_000);
    assert.notEqual((await planeStatus(n.admin, 'kv')).pid, pid1);
    assert.equal((await planeStatus(n.admin, 'kv')).restarts, 0, 'a deliberate restart is not a crash');

    // 3. A bad file: 400 naming the problems, nothing changes.
    writeFileSync(file, 'log_level = "loud"\nbogus_key = 1\n');
    r = await reload();
    assert.equal(r.status, 400);
    const err = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'BadRequest');
    assert.match(err.error.message, /log_level/);
    assert.match(err.error.message, /bogus_key: unknown key/);
    const s = await status();
    assert.equal(s.config_version, 3);
    assert.equal(s.log_level, 'debug');
    assert.equal(s.last_reload?.ok, false);
    assert.equal((await fetch(`${n.admin}/readyz`)).status, 200);

    // 4. A changed listener address is not applied: restart required. (http_addr comes from a flag
    // here, which outranks the file; the unit test covers http_addr itself.)
    writeFileSync(file, 'log_level = "debug"\nmetrics_addr = "127.0.0.1:1"\n[kv]\nstorage_engine = "mem"\n');
    r = await reload();
    assert.equal(r.status, 200);
    const body = (await r.json()) as { restart_required: string[]; applied: string[] };
    assert.deepEqual(body.restart_required, ['metrics_addr']);
    assert.equal((await status()).addresses.admin, n.admin);
    assert.equal(
      ((await (await fetch(`${n.admin}/api/v1/status`)).json()) as { addresses: { metrics: null } }).addresses
        .metrics,
      null,
    );

    // 5. SIGHUP: the same pipeline.
    writeFileSync(file, 'log_level = "warn"\n[kv]\nstorage_engine = "mem"\n');
    process.kill(n.prog.pid, 'SIGHUP');
    await waitFor(async () => (await status()).log_level === 'warn', 5000);
    assert.equal((await status()).last_reload?.source, 'SIGHUP');

    // 6. Disabling a plane stops it (gateway 404, gone from readiness); enabling starts it again.
    writeFileSync(file, 'log_level = "warn"\nservices = ["registry"]\n[kv]\nstorage_engine = "mem"\n');
    r = await reload();
    assert.equal(r.status, 200);
    assert.deepEqual(((await r.json()) as { applied: string[] }).applied, ['services']);
    assert.equal((await fetch(`${n.gateway}/v1/kv/demo/x`)).status, 404);
    const ready = (await (await fetch(`${n.admin}/readyz`)).json()) as {
      ready: boolean;
      deps: Record<string, boolean>;
    };
    assert.equal(ready.ready, true);
    assert.equal('kv' in ready.deps, false);
    writeFileSync(file, 'log_level = "warn"\nservices = ["registry", "kv"]\n[kv]\nstorage_engine = "mem"\n');
    assert.equal((await reload()).status, 200);
    await waitFor(async () => (await fetch(`${n.admin}/readyz/kv`)).status === 200, 10_000);
    assert.equal(
      (await fetch(`${n.gateway}/v1/kv/demo/x`)).status,
      404,
      'kv answers again (key absent in the fresh mem store)',
    );
  } finally {
    sse.close();
    await n.stop();
    dir.remove();
  }
});
