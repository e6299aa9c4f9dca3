// The background signature audit (SPEC §2.5, issue 9 #20): an entry with a valid chain link but
// signed outside the signer set is found after boot; writes then answer 503, reads continue, and
// the version is named in the log, /readyz and registry_audit_faults_total.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';
import {
  LogAudit,
  generateKeyFile,
  initChain,
  initialSignerSet,
  seal,
  signBytes,
  signedBytes,
  type KeyFile,
  type LogEntry,
} from '../src/index.js';
import { EntryAuditor } from '../src/audit-check.js';
import { body, ids, keys, publish, rotation, setup, sig, svc, REG } from './governance-helpers.js';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));
const dir = tempDir('ron-registry-audit-');
const started: Program[] = [];
after(async () => {
  for (const p of started) await p.stop('SIGKILL');
  dir.remove();
});

const key = generateKeyFile();
const env = { SIGNER_ALLOWLIST: key.signer_id, SIG_THRESHOLD: '1', LOG_LEVEL: 'info' };

async function spawnRegistry(db: string): Promise<Program> {
  const p = await spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0', '--db', db],
    env,
    // A loaded CI machine can take a while to start a process; nothing here is timed.
    timeoutMs: 60_000,
  });
  started.push(p);
  return p;
}

const commitSig = (k: KeyFile, payload: string, version: number) =>
  signBytes(k, signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }));

async function commit(url: string, payload: string): Promise<Response> {
  const head = (await (await fetch(`${url}/registry/head`)).json()) as { version: number };
  return fetch(`${url}/registry/commit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload_b3: payload, signatures: [commitSig(key, payload, head.version + 1)] }),
  });
}

test('an entry signed outside the signer set, chained correctly into the SQLite file: writes 503, reads on, readyz + metric name it', async () => {
  await initChain();
  const db = join(dir.path, 'forged', 'registry.db');
  const p1 = await spawnRegistry(db);
  for (let i = 1; i <= 3; i++) assert.equal((await commit(p1.url, `b3:a${i}`)).status, 200);
  assert.equal((await p1.stop('SIGTERM')).code, 0);
  const clean = join(dir.path, 'clean', 'registry.db');
  mkdirSync(dirname(clean), { recursive: true });
  copyFileSync(db, clean);

  // The attacker appends version 4 (valid link, signed by their own key) and 5 (signed by the real
  // key over the right bytes): the schema allows head + 1 inserts, and boot checks only the chain.
  const outsider = generateKeyFile();
  const sql = new Database(db);
  const last = JSON.parse(
    (sql.prepare('SELECT entry FROM registry_log WHERE version = 3').get() as { entry: string }).entry,
  ) as LogEntry;
  const forged = seal({
    version: 4,
    op: 'commit',
    payload_b3: 'b3:evil',
    prev_b3: last.entry_b3,
    committed_at: new Date().toISOString(),
    signatures: [commitSig(outsider, 'b3:evil', 4)],
  });
  const honest = seal({
    version: 5,
    op: 'commit',
    payload_b3: 'b3:ok',
    prev_b3: forged.entry_b3,
    committed_at: new Date().toISOString(),
    signatures: [commitSig(key, 'b3:ok', 5)],
  });
  for (const e of [forged, honest])
    sql
      .prepare('INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)')
      .run(e.version, e.op, JSON.stringify(e));
  sql.close();

  const p2 = await spawnRegistry(db);
  assert.equal(p2.ready.head, 5); // readiness is not delayed by the audit
  const line = await p2.waitForLine((l) => l.event === 'audit_fault', 60_000);
  assert.equal(line.version, 4);
  assert.match(String(line.reason), /not on the allow-list/);
  const refused = await commit(p2.url, 'b3:after');
  assert.equal(refused.status, 503);
  assert.ok(refused.headers.get('retry-after'));
  const err = ((await refused.json()) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, 'StoreUnavailable');
  assert.match(err.message, /entry 4/);
  const proposal = publish(svc('svc-audit', 1));
  const gov = await fetch(`${p2.url}/v1/registry/proposals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'publish', descriptor: proposal.descriptor, signatures: [] }),
  });
  assert.equal(gov.status, 503);
  // Reads continue.
  assert.equal((await fetch(`${p2.url}/registry/head`)).status, 200);
  assert.equal((await fetch(`${p2.url}/registry/5`)).status, 200);
  const admin = String(p2.ready.admin_url);
  const ready = await fetch(`${admin}/readyz`);
  assert.equal(ready.status, 200);
  const rb = (await ready.json()) as {
    ready: boolean;
    write_ready: boolean;
    audit: { state: string; fault: { version: number }; up_to: number };
  };
  assert.equal(rb.ready, true);
  assert.equal(rb.write_ready, false);
  assert.equal(rb.audit.state, 'fault');
  assert.equal(rb.audit.fault.version, 4);
  assert.equal(rb.audit.up_to, 5);
  assert.match(await (await fetch(`${admin}/metrics`)).text(), /^registry_audit_faults_total 1$/m);
  assert.equal((await p2.stop('SIGTERM')).code, 0);

  // The untouched copy passes its audit and keeps accepting writes.
  const p3 = await spawnRegistry(clean);
  const ok = await p3.waitForLine((l) => l.event === 'audit_ok', 60_000);
  assert.equal(ok.entries, 3);
  const rb3 = (await (await fetch(`${String(p3.ready.admin_url)}/readyz`)).json()) as {
    write_ready: boolean;
    audit: { state: string; checked: number };
  };
  assert.deepEqual([rb3.write_ready, rb3.audit.state, rb3.audit.checked], [true, 'ok', 3]);
  assert.match(
    await (await fetch(`${String(p3.ready.admin_url)}/metrics`)).text(),
    /^registry_audit_faults_total 0$/m,
  );
  assert.equal((await commit(p3.url, 'b3:fine')).status, 200);
  assert.equal((await p3.stop('SIGTERM')).code, 0);
});

test('audit follows signer rotations: a governed log passes; a commit by the rotated-out set after the rotation is a fault', async () => {
  const { reg, gov, store, ks } = await setup(3, 2);
  const d = publish(svc('svc-a', 1));
  const p = await gov.propose(body(d, [sig(ks[0]!, d), sig(ks[1]!, d)]));
  await gov.apply(p.proposal_id);
  const fresh = keys(2);
  const rot = rotation(2, fresh, 2);
  const rp = await gov.propose(
    body(
      rot,
      [...ks.slice(0, 2), ...fresh].map((k) => sig(k, rot)),
    ),
  );
  await gov.apply(rp.proposal_id);
  const v = reg.head.version + 1;
  const bytes = signedBytes({ registry: REG, op: 'commit', payload_b3: 'b3:new', version: v });
  await reg.commit({ payload_b3: 'b3:new', signatures: fresh.map((k) => signBytes(k, bytes)) });
  const genesis = initialSignerSet(ids(ks), 2);
  const audit = new LogAudit({ store, registryId: REG, genesis, upTo: reg.head.version, pageSize: 2 });
  const status = await audit.done;
  assert.deepEqual([status.state, status.checked], ['ok', 3]);

  // The same log judged with the old set still in force at version 4 (a forged commit) faults there.
  const auditor = new EntryAuditor(REG, genesis);
  for (const e of await store.range(0, 10)) assert.equal(auditor.check(e), undefined);
  const last = (await store.last())!;
  const oldSigned = seal({
    version: 4,
    op: 'commit',
    payload_b3: 'b3:old',
    prev_b3: last.entry_b3,
    committed_at: last.committed_at,
    signatures: ks
      .slice(0, 2)
      .map((k) =>
        signBytes(k, signedBytes({ registry: REG, op: 'commit', payload_b3: 'b3:old', version: 4 })),
      ),
  });
  const fault = auditor.check(oldSigned);
  assert.equal(fault?.version, 4);
  assert.match(fault?.reason ?? '', /signer set 2/);
  // A signers entry that skips a version is a fault too.
  assert.match(
    new EntryAuditor(REG, genesis).check({
      ...last,
      version: 1,
      op: 'signers',
      body: { version: 3, signers: ids(fresh), threshold: 1 },
    })?.reason ?? '',
    /does not follow/,
  );
});
