import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sseConnect, tempDir, waitFor } from '@ron/testkit';
import { metricValue, planeStatus, startNode } from './helpers.js';

// Faults with real processes (issue 5 "Faults"). RON_TEST_FAULT is a test-only knob of the plane
// runner: `<plane>:<crash|hang>:<marker file>`, active while the marker file exists.

interface Envelope {
  error: { code: string; message: string };
}

test('kill -9 of a plane: ServiceCrashed, /readyz 503 + Retry-After, gateway 503 NotReady, restart with backoff, ready again, restarts +1', async () => {
  const n = await startNode({
    env: { RON_SUPERVISOR__BACKOFF_MIN: '1500ms', RON_SUPERVISOR__BACKOFF_MAX: '3s' },
  });
  const sse = await sseConnect(`${n.admin}/api/v1/events`);
  try {
    assert.equal(sse.status, 200);
    const before = await planeStatus(n.admin, 'kv');
    assert.equal(await metricValue(n.admin, 'service_restarts_total{service="kv"}'), 0);
    process.kill(before.pid!, 'SIGKILL');

    const crashed = await sse.next((e) => e.event === 'ServiceCrashed');
    const data = JSON.parse(crashed.data) as { service: string; reason: string; restart_in_ms: number };
    assert.equal(data.service, 'kv');
    assert.equal(data.reason, 'killed by SIGKILL');
    assert.ok(data.restart_in_ms >= 1500);

    // While the plane waits out its backoff: readiness 503 with Retry-After, gateway 503 NotReady.
    const ready = await fetch(`${n.admin}/readyz`);
    assert.equal(ready.status, 503);
    assert.ok(Number(ready.headers.get('retry-after')) >= 1);
    assert.equal(((await ready.json()) as { deps: Record<string, boolean> }).deps.kv, false);
    const verbose = await (await fetch(`${n.admin}/readyz/kv?verbose`)).text();
    assert.match(verbose, /^\[-\]kv failed: restarting in \d+ ms after: killed by SIGKILL$/m);
    const gw = await fetch(`${n.gateway}/v1/kv/demo/x`);
    assert.equal(gw.status, 503);
    assert.ok(Number(gw.headers.get('retry-after')) >= 1);
    assert.equal(((await gw.json()) as Envelope).error.code, 'NotReady');
    assert.equal((await planeStatus(n.admin, 'kv')).state, 'restarting');

    await sse.next((e) => e.event === 'Health' && (JSON.parse(e.data) as { ok: boolean }).ok, 10_000);
    const r2 = await fetch(`${n.admin}/readyz`);
    assert.equal(r2.status, 200);
    const after = await planeStatus(n.admin, 'kv');
    assert.equal(after.state, 'running');
    assert.equal(after.restarts, 1);
    assert.notEqual(after.pid, before.pid);
    assert.match(after.last_error ?? '', /SIGKILL/);
    assert.equal(await metricValue(n.admin, 'service_restarts_total{service="kv"}'), 1);
    assert.equal((await fetch(`${n.gateway}/v1/kv/demo/x`)).status, 404);
  } finally {
    sse.close();
    await n.stop();
  }
});

test('a plane crashing on start past max_restarts within the window is failed; readiness stays 503; reset brings it back', async () => {
  const dir = tempDir('macronode-fault-');
  const marker = join(dir.path, 'crash');
  const n = await startNode({
    env: {
      RON_TEST_FAULT: `kv:crash:${marker}`,
      RON_SUPERVISOR__MAX_RESTARTS: '2',
      RON_SUPERVISOR__BACKOFF_MIN: '50ms',
      RON_SUPERVISOR__BACKOFF_MAX: '200ms',
    },
  });
  try {
    writeFileSync(marker, '1');
    process.kill((await planeStatus(n.admin, 'kv')).pid!, 'SIGKILL');
    await waitFor(async () => (await planeStatus(n.admin, 'kv')).state === 'failed', 10_000);
    const st = await planeStatus(n.admin, 'kv');
    assert.equal(st.restarts, 2);
    assert.equal(st.pid, null);
    await n.prog.waitForLine((l) => l.event === 'plane_failed');
    // Failed is terminal until reset: still 503 on a later look, no further restarts.
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${n.admin}/readyz?verbose`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /^\[-\]kv failed: failed \(restart intensity exceeded\)/m);
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal((await planeStatus(n.admin, 'kv')).restarts, 2);
    const gw = await fetch(`${n.gateway}/v1/kv/demo/x`);
    assert.equal(gw.status, 503);

    rmSync(marker);
    const reset = await fetch(`${n.admin}/api/v1/services/kv/reset`, { method: 'POST' });
    assert.equal(reset.status, 200);
    assert.deepEqual(await reset.json(), { plane: 'kv', state: 'starting' });
    await waitFor(async () => (await fetch(`${n.admin}/readyz`)).status === 200, 10_000);
    assert.equal((await planeStatus(n.admin, 'kv')).state, 'running');
    const missing = await fetch(`${n.admin}/api/v1/services/nope/reset`, { method: 'POST' });
    assert.equal(missing.status, 404);
  } finally {
    await n.stop();
    dir.remove();
  }
});

test('a hung plane (no heartbeats) is killed and restarted', async () => {
  const dir = tempDir('macronode-fault-');
  const marker = join(dir.path, 'hang');
  writeFileSync(marker, '1');
  const n = await startNode({
    env: {
      RON_TEST_FAULT: `kv:hang:${marker}`,
      RON_SUPERVISOR__HEARTBEAT_INTERVAL: '100ms',
      RON_SUPERVISOR__HEARTBEAT_TIMEOUT: '800ms',
      RON_SUPERVISOR__BACKOFF_MIN: '300ms',
      RON_SUPERVISOR__BACKOFF_MAX: '1s',
    },
  });
  try {
    const crash = await n.prog.waitForLine(
      (l) =>
        l.event === 'plane_crashed' &&
        typeof l.reason === 'string' &&
        l.reason.startsWith('hang: no heartbeat'),
      10_000,
    );
    rmSync(marker);
    const oldPid = Number(crash.plane_pid);
    await waitFor(async () => {
      const s = await planeStatus(n.admin, 'kv');
      return s.state === 'running' && s.restarts >= 1 && s.pid !== oldPid;
    }, 10_000);
    // The hung child really is gone (SIGKILL), and the node is ready again.
    assert.throws(() => process.kill(oldPid, 0), /ESRCH/);
    await waitFor(async () => (await fetch(`${n.admin}/readyz`)).status === 200, 5000);
    assert.ok((await metricValue(n.admin, 'service_restarts_total{service="kv"}')) >= 1);
  } finally {
    await n.stop();
    if (existsSync(marker)) rmSync(marker);
    dir.remove();
  }
});

test('chaos: planes killed in a loop end running or failed exactly as the policy says', async () => {
  const n = await startNode({
    env: {
      RON_SUPERVISOR__MAX_RESTARTS: '3',
      RON_SUPERVISOR__BACKOFF_MIN: '20ms',
      RON_SUPERVISOR__BACKOFF_MAX: '100ms',
    },
  });
  try {
    // kv: killed 4 times as soon as it is back → the 4th crash exceeds 3 restarts in the window.
    for (let i = 0; i < 4; i++) {
      const pid = await waitFor(async () => {
        const s = await planeStatus(n.admin, 'kv');
        return s.state === 'running' ? s.pid : null;
      }, 10_000);
      process.kill(pid!, 'SIGKILL');
      await waitFor(async () => (await planeStatus(n.admin, 'kv')).pid !== pid, 5000);
    }
    // registry: killed twice → within budget, running again.
    for (let i = 0; i < 2; i++) {
      const pid = await waitFor(async () => {
        const s = await planeStatus(n.admin, 'registry');
        return s.state === 'running' ? s.pid : null;
      }, 10_000);
      process.kill(pid!, 'SIGKILL');
      await waitFor(async () => (await planeStatus(n.admin, 'registry')).pid !== pid, 5000);
    }
    await waitFor(async () => (await planeStatus(n.admin, 'kv')).state === 'failed', 10_000);
    await waitFor(async () => (await planeStatus(n.admin, 'registry')).state === 'running', 10_000);
    assert.equal((await planeStatus(n.admin, 'kv')).restarts, 3);
    assert.equal((await planeStatus(n.admin, 'registry')).restarts, 2);
    assert.equal(await metricValue(n.admin, 'service_restarts_total{service="kv"}'), 3);
    assert.equal(await metricValue(n.admin, 'service_up{service="kv"}'), 0);
    assert.equal(await metricValue(n.admin, 'service_up{service="registry"}'), 1);
    assert.equal((await fetch(`${n.admin}/readyz`)).status, 503);
  } finally {
    await n.stop();
  }
});

test('kill -9 of the host: planes notice the closed IPC channel and exit on their own', async () => {
  const n = await startNode();
  try {
    const pids = [(await planeStatus(n.admin, 'kv')).pid!, (await planeStatus(n.admin, 'registry')).pid!];
    n.prog.proc.kill('SIGKILL');
    await n.prog.exited;
    await waitFor(
      () =>
        pids.every((pid) => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }),
      10_000,
    );
  } finally {
    await n.stop();
  }
});

test('kill -9 of the gateway plane: restarted on the same address, routing again', async () => {
  const n = await startNode({
    env: { RON_SUPERVISOR__BACKOFF_MIN: '200ms', RON_SUPERVISOR__BACKOFF_MAX: '1s' },
  });
  const sse = await sseConnect(`${n.admin}/api/v1/events`);
  try {
    const before = await planeStatus(n.admin, 'gateway');
    assert.notEqual(before.pid, n.prog.pid, 'the gateway is a child process');
    process.kill(before.pid!, 'SIGKILL');
    const crashed = await sse.next((e) => e.event === 'ServiceCrashed');
    assert.equal((JSON.parse(crashed.data) as { service: string }).service, 'gateway');
    await waitFor(async () => (await fetch(`${n.admin}/readyz`)).status === 200, 10_000);
    const after = await planeStatus(n.admin, 'gateway');
    assert.equal(after.restarts, 1);
    // Same address as in the ready line: clients keep their URL.
    const ping = await fetch(`${n.gateway}/ingress/ping`);
    assert.equal(ping.status, 200);
    const put = await fetch(`${n.gateway}/v1/kv/g/k`, { method: 'PUT', body: 'v' });
    assert.equal(put.status, 201);
  } finally {
    sse.close();
    await n.stop();
  }
});

test('child spec restart policies: temporary never restarts, transient restarts only after an abnormal exit', async () => {
  const n = await startNode({
    env: {
      RON_REGISTRY__RESTART: 'temporary',
      RON_KV__RESTART: 'transient',
      RON_SUPERVISOR__BACKOFF_MIN: '50ms',
      RON_SUPERVISOR__BACKOFF_MAX: '200ms',
    },
  });
  try {
    // transient + abnormal exit (SIGKILL) → restarted.
    const kv1 = (await planeStatus(n.admin, 'kv')).pid!;
    process.kill(kv1, 'SIGKILL');
    await waitFor(async () => {
      const s = await planeStatus(n.admin, 'kv');
      return s.state === 'running' && s.pid !== kv1;
    }, 10_000);
    // transient + clean exit (SIGTERM → the plane closes and exits 0) → stopped, not restarted.
    const kv2 = (await planeStatus(n.admin, 'kv')).pid!;
    process.kill(kv2, 'SIGTERM');
    await waitFor(async () => (await planeStatus(n.admin, 'kv')).state === 'stopped', 10_000);
    assert.equal((await planeStatus(n.admin, 'kv')).restarts, 1);
    // temporary + crash → stopped, never restarted; readiness 503 (critical).
    process.kill((await planeStatus(n.admin, 'registry')).pid!, 'SIGKILL');
    await waitFor(async () => (await planeStatus(n.admin, 'registry')).state === 'stopped', 10_000);
    assert.equal((await planeStatus(n.admin, 'registry')).restarts, 0);
    assert.equal((await fetch(`${n.admin}/readyz`)).status, 503);
    // reset starts a stopped plane again.
    assert.equal((await fetch(`${n.admin}/api/v1/services/registry/reset`, { method: 'POST' })).status, 200);
    assert.equal((await fetch(`${n.admin}/api/v1/services/kv/reset`, { method: 'POST' })).status, 200);
    await waitFor(async () => (await fetch(`${n.admin}/readyz`)).status === 200, 10_000);
  } finally {
    await n.stop();
  }
});

test('a gateway request to a plane that stopped answering gets 503 NotReady after write_timeout, never a hang', async () => {
  const n = await startNode({ env: { RON_WRITE_TIMEOUT: '1s' } });
  const kv = (await planeStatus(n.admin, 'kv')).pid!;
  try {
    process.kill(kv, 'SIGSTOP');
    const r = await fetch(`${n.gateway}/v1/kv/demo/x`, { signal: AbortSignal.timeout(8000) });
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal(((await r.json()) as Envelope).error.code, 'NotReady');
  } finally {
    process.kill(kv, 'SIGCONT');
    await n.stop();
  }
});
