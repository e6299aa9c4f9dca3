// macronode backup / restore with real processes (docs/runbook.md § Backups): the admin route and
// the CLI take a verified backup of every plane store while the node serves writes; restore (node
// stopped) verifies before it replaces anything and refuses an older backup unless forced.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runProgram, tempDir } from '@ron/testkit';
import { signBytes, signedBytes, type KeyFile } from '@ron/registry';
import { BIN, startNode, type TestNode } from './helpers.js';

const dir = tempDir('macronode-backup-');
const nodes: TestNode[] = [];
after(async () => {
  for (const n of nodes) await n.prog.stop('SIGKILL');
  dir.remove();
});

interface Manifest {
  format: string;
  planes: Record<
    string,
    {
      file: string;
      bytes: number;
      b3: string;
      log?: { head: number; audit?: { signers: string[] } };
      content?: { objects: number; corrupt_chunks: number };
    }
  >;
}

test('backup during a 16-connection KV write storm, then restore into a stopped node: every key acknowledged before the backup is there', async () => {
  const dataDir = join(dir.path, 'node-a');
  const n = await startNode({ dataDir });
  nodes.push(n);
  const acked = new Map<string, string>();
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const k = `w${w}-${i}`;
      const r = await fetch(`${n.gateway}/v1/kv/storm/${k}`, { method: 'PUT', body: `v-${k}` });
      if (r.status === 201) acked.set(k, `v-${k}`);
    }
  };
  // Uploads to the storage plane keep flowing too (its snapshot carries the chunk bytes).
  const blobs = new Map<string, Buffer>();
  const uploader = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const body = Buffer.alloc(100_000 + w * 7 + i, `blob-${w}-${i}-`);
      const r = await fetch(`${n.gateway}/v1/cas`, { method: 'POST', body });
      if (r.status === 201 || r.status === 200) blobs.set(((await r.json()) as { addr: string }).addr, body);
      else await r.arrayBuffer();
    }
  };
  const workers = [...Array.from({ length: 16 }, (_, w) => worker(w)), uploader(0), uploader(1)];
  while (acked.size < 100 || blobs.size < 4) await new Promise((r) => setTimeout(r, 5));
  const before = new Map(acked);
  const blobsBefore = new Map(blobs);
  const out = join(dir.path, 'bk-a');
  const b = await runProgram(BIN, ['backup', '--admin', n.admin, '--out', out, '--json'], {
    timeoutMs: 60_000,
  });
  const afterBackup = acked.size;
  while (acked.size < afterBackup + 50) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await Promise.all(workers);
  assert.equal(b.code, 0, b.stderr);
  const res = JSON.parse(b.stdout) as { ok: boolean; manifest: Manifest };
  assert.equal(res.ok, true);
  assert.deepEqual(Object.keys(res.manifest.planes).sort(), [
    'index',
    'kv',
    'mailbox',
    'registry',
    'storage',
  ]);
  assert.ok((res.manifest.planes.storage?.content?.objects ?? 0) >= blobsBefore.size);
  assert.equal(res.manifest.planes.storage?.content?.corrupt_chunks, 0);
  assert.deepEqual(
    readdirSync(out).sort(),
    ['index.db', 'kv.db', 'mailbox.db', 'manifest.json', 'registry.db', 'storage.db'],
    'no partial or journal files',
  );
  assert.ok(!existsSync(`${out}.partial`));

  // The scheduled-backup route: same result, default directory under data_dir/backups, metric set.
  const route = await fetch(`${n.admin}/api/v1/backup`, { method: 'POST' });
  assert.equal(route.status, 200);
  const rb = (await route.json()) as { out: string; manifest: Manifest };
  assert.ok(rb.out.startsWith(join(dataDir, 'backups')), rb.out);
  const metrics = await (await fetch(`${n.admin}/metrics`)).text();
  const last = Number(/^ron_backup_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(last > Date.now() / 1000 - 600, `ron_backup_last_success_timestamp_seconds = ${last}`);
  const bad = await fetch(`${n.admin}/api/v1/backup`, { method: 'POST', body: '{"out":"relative/dir"}' });
  assert.equal(bad.status, 400);

  // Restore refuses while the node runs (a plane holds its store), then into a new data dir.
  const busy = await runProgram(BIN, ['restore', '--from', out, '--data-dir', dataDir]);
  assert.equal(busy.code, 69, busy.stderr);
  await n.prog.stop('SIGTERM');
  const older = await runProgram(BIN, ['restore', '--from', out, '--data-dir', dataDir]);
  assert.equal(older.code, 65, older.stderr);
  assert.match(older.stderr, /refusing to restore kv: .* is newer than the snapshot .*--force/);

  const fresh = join(dir.path, 'node-b');
  const r = await runProgram(BIN, ['restore', '--from', out, '--data-dir', fresh]);
  assert.equal(r.code, 0, r.stderr);
  const n2 = await startNode({ dataDir: fresh });
  nodes.push(n2);
  for (const [k, v] of before) {
    const got = await fetch(`${n2.gateway}/v1/kv/storm/${k}`);
    assert.equal(got.status, 200, `key ${k} acknowledged before the backup began is missing`);
    assert.equal(await got.text(), v);
  }
  for (const [addr, body] of blobsBefore) {
    const got = await fetch(`${n2.gateway}/v1/cas/${addr}`);
    assert.equal(got.status, 200, `object ${addr} stored before the backup began is missing`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body), `object ${addr} reads back different bytes`);
  }
  await n2.prog.stop('SIGTERM');
});

test('restore refuses a corrupted node backup with the reason and replaces nothing', async () => {
  const dataDir = join(dir.path, 'node-c');
  const n = await startNode({ dataDir });
  nodes.push(n);
  await fetch(`${n.gateway}/v1/kv/b/k`, { method: 'PUT', body: 'v' });
  const out = join(dir.path, 'bk-c');
  const b = await runProgram(BIN, ['backup', '--admin', n.admin, '--out', out]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /backup ok: .*\n\s+registry .*head 0\n\s+kv /);
  await n.prog.stop('SIGTERM');
  const kvFile = join(out, 'kv.db');
  const buf = readFileSync(kvFile);
  buf[buf.length - 10]! ^= 0xff;
  writeFileSync(kvFile, buf);
  const target = join(dir.path, 'node-c-restore');
  const r = await runProgram(BIN, ['restore', '--from', out, '--data-dir', target]);
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /kv: .*checksum .* does not match the manifest/);
  assert.equal(existsSync(target), false, 'nothing replaced');
});

test('restore audits every registry signature: against the target node key when it has one, else against the signer set the backup recorded', async () => {
  const dataDir = join(dir.path, 'node-sig');
  const n = await startNode({ dataDir });
  nodes.push(n);
  const key = JSON.parse(readFileSync(join(dataDir, 'keys', 'signer.key'), 'utf8')) as KeyFile;
  for (let version = 1; version <= 3; version++) {
    const payload_b3 = `b3:entry-${version}`;
    const sig = signBytes(key, signedBytes({ registry: 'default', op: 'commit', version, payload_b3 }));
    const r = await fetch(`${n.gateway}/registry/commit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload_b3, signatures: [sig] }),
    });
    assert.equal(r.status, 200, await r.text());
  }
  const out = join(dir.path, 'bk-sig');
  const b = await runProgram(BIN, ['backup', '--admin', n.admin, '--out', out, '--json']);
  assert.equal(b.code, 0, b.stderr);
  const m = (JSON.parse(b.stdout) as { manifest: Manifest }).manifest;
  assert.equal(m.planes.registry?.log?.head, 3);
  assert.deepEqual(
    m.planes.registry?.log?.audit?.signers,
    [key.signer_id],
    'the audited signer set is recorded',
  );
  await n.prog.stop('SIGTERM');

  // A node with a key of its own that did not sign these entries refuses the snapshot.
  const other = join(dir.path, 'node-sig-other');
  const n2 = await startNode({ dataDir: other });
  await n2.prog.stop('SIGTERM');
  const refused = await runProgram(BIN, ['restore', '--from', out, '--data-dir', other, '--force']);
  assert.equal(refused.code, 65, refused.stderr);
  assert.match(refused.stderr, /registry: .*version 1.*signature|registry: .*signature.*version 1/i);
  // A fresh data dir (no key yet) audits against the signer set the backup recorded.
  const fresh = join(dir.path, 'node-sig-fresh');
  const ok = await runProgram(BIN, ['restore', '--from', out, '--data-dir', fresh]);
  assert.equal(ok.code, 0, ok.stderr);
});
