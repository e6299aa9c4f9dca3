// Proposals are durable (SPEC §2.2, issue 9 #21): M-of-N approvals survive a restart of the real
// process on SQLite; and a proposal whose descriptor moved past it says `stale` and refuses approvals.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@ron/kernel';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';
import { loadRegistryConfig, startRegistry, type RunningRegistry } from '../src/index.js';
import { body, ids, keys, publish, sig, svc } from './governance-helpers.js';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));
const dir = tempDir('ron-registry-proposals-');
const started: Program[] = [];
after(async () => {
  for (const p of started) await p.stop('SIGKILL');
  dir.remove();
});

const REGISTRY = 'durable';
const ks = keys(3);

async function call(
  url: string,
  method: string,
  path: string,
  b?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const init: RequestInit = {
    method,
    headers: b !== undefined ? { 'content-type': 'application/json' } : {},
  };
  if (b !== undefined) init.body = JSON.stringify(b);
  const res = await fetch(`${url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function spawnRegistry(db: string): Promise<Program> {
  const p = await spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0', '--db', db],
    env: {
      SIGNER_ALLOWLIST: ids(ks).join(','),
      SIG_THRESHOLD: '2',
      REGISTRY_ID: REGISTRY,
      LOG_LEVEL: 'info',
    },
    // A loaded CI machine can take a while to start a process; nothing here is timed.
    timeoutMs: 60_000,
  });
  started.push(p);
  return p;
}

test('proposals survive a restart of the real process: propose, approve, restart, apply', async () => {
  const db = join(dir.path, 'restart', 'registry.db');
  const subj = publish(svc('svc-durable@eu', 1));
  const p1 = await spawnRegistry(db);
  const proposed = await call(
    p1.url,
    'POST',
    '/v1/registry/proposals',
    body(subj, [sig(ks[0]!, subj, REGISTRY)]),
  );
  assert.equal(proposed.status, 202);
  const pid = String(proposed.body.proposal_id);
  // A second proposal stays pending across the restart with its one signature.
  const other = publish(svc('svc-pending@eu', 1));
  const pending = await call(
    p1.url,
    'POST',
    '/v1/registry/proposals',
    body(other, [sig(ks[1]!, other, REGISTRY)]),
  );
  const approved = await call(p1.url, 'POST', `/v1/registry/proposals/${pid}/approvals`, {
    signature: sig(ks[1]!, subj, REGISTRY),
  });
  assert.equal(approved.status, 200);
  assert.equal(approved.body.state, 'ready');
  assert.equal((await p1.stop('SIGTERM')).code, 0);

  const p2 = await spawnRegistry(db);
  const status = await call(p2.url, 'GET', `/v1/registry/proposals/${pid}`);
  assert.equal(status.status, 200);
  assert.deepEqual(
    [status.body.state, status.body.have, status.body.need, status.body.stale],
    ['ready', 2, 2, false],
  );
  assert.equal((status.body.signatures as unknown[]).length, 2);
  const stats = await call(p2.url, 'GET', '/registry/stats');
  assert.equal(stats.body.pending_proposals, 2);
  const applied = await call(p2.url, 'POST', `/v1/registry/apply/${pid}`);
  assert.equal(applied.status, 200);
  assert.equal(applied.body.version, 1);
  const left = await call(p2.url, 'GET', `/v1/registry/proposals/${String(pending.body.proposal_id)}`);
  assert.deepEqual([left.body.state, left.body.have], ['pending', 1]);
  assert.equal((await p2.stop('SIGTERM')).code, 0);

  // Applied survives too: re-apply after another restart answers the same version.
  const p3 = await spawnRegistry(db);
  const again = await call(p3.url, 'POST', `/v1/registry/apply/${pid}`);
  assert.deepEqual([again.status, again.body.version], [200, 1]);
  const done = await call(p3.url, 'GET', `/v1/registry/proposals/${pid}`);
  assert.deepEqual([done.body.state, done.body.applied_version, done.body.stale], ['applied', 1, false]);
  assert.equal((await p3.stop('SIGTERM')).code, 0);
});

test('a proposal overtaken by its descriptor says stale:true and refuses approvals with 409 StaleVersion', async () => {
  const { config } = loadRegistryConfig({
    env: {
      REGISTRY_ADDR: '127.0.0.1:0',
      METRICS_ADDR: '127.0.0.1:0',
      AMNESIA: '1',
      REGISTRY_ID: REGISTRY,
      SIGNER_ALLOWLIST: ids(ks).join(','),
      SIG_THRESHOLD: '2',
    },
  });
  const r: RunningRegistry = await startRegistry({
    config,
    logger: createLogger('svc-registry', 'silent'),
    defaultCollectors: false,
  });
  try {
    const subj = publish(svc('svc-stale', 1));
    const slow = await call(
      r.apiUrl,
      'POST',
      '/v1/registry/proposals',
      body(subj, [sig(ks[0]!, subj, REGISTRY)]),
    );
    const slowId = String(slow.body.proposal_id);
    assert.equal((await call(r.apiUrl, 'GET', `/v1/registry/proposals/${slowId}`)).body.stale, false);
    // A competing proposal for the same version gathers quorum first and applies.
    const fast = await call(
      r.apiUrl,
      'POST',
      '/v1/registry/proposals',
      body(subj, [sig(ks[1]!, subj, REGISTRY), sig(ks[2]!, subj, REGISTRY)]),
    );
    assert.equal(
      (await call(r.apiUrl, 'POST', `/v1/registry/apply/${String(fast.body.proposal_id)}`)).status,
      200,
    );
    const st = await call(r.apiUrl, 'GET', `/v1/registry/proposals/${slowId}`);
    assert.equal(st.status, 200);
    assert.equal(st.body.stale, true);
    assert.equal(st.body.state, 'pending');
    const late = await call(r.apiUrl, 'POST', `/v1/registry/proposals/${slowId}/approvals`, {
      signature: sig(ks[1]!, subj, REGISTRY),
    });
    assert.equal(late.status, 409);
    assert.equal((late.body.error as { code: string }).code, 'StaleVersion');
    assert.match(
      (late.body.error as { message: string }).message,
      /svc-stale is at version 1, the proposal is for version 1/,
    );
    assert.equal((await call(r.apiUrl, 'POST', `/v1/registry/apply/${slowId}`)).status, 409);
    // The next version is not stale.
    const next = publish(svc('svc-stale', 2));
    const v2 = await call(
      r.apiUrl,
      'POST',
      '/v1/registry/proposals',
      body(next, [sig(ks[0]!, next, REGISTRY)]),
    );
    assert.equal(
      (await call(r.apiUrl, 'GET', `/v1/registry/proposals/${String(v2.body.proposal_id)}`)).body.stale,
      false,
    );
  } finally {
    await r.close(1000);
  }
});
