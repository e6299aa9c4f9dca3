// Storage snapshots (docs/runbook.md § Backups): taken while uploads, deletes and GC steps race it,
// a snapshot restores to a store where every object acknowledged before it began reads back
// verified; a tampered snapshot is refused before anything is replaced; a chunk that is already
// corrupt on disk never enters a snapshot (its objects are marked corrupt there instead).
import assert from 'node:assert/strict';
import { existsSync, openSync, readFileSync, readdirSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { CasStore } from '../../src/cas-store.js';
import { CHUNK_DATA_TABLE, restoreStorageSnapshot, verifyStorageSnapshot } from '../../src/backup.js';
import { CHUNK_SIZE } from '../../src/hash.js';
import { VerifiedReader } from '../../src/verified-reader.js';
import { bytes, fresh, removeDirs } from '../helpers.js';

after(removeDirs);

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += 10_000) {
    await new Promise((r) => setImmediate(r));
    yield b.subarray(off, off + 10_000);
  }
}

async function readAll(store: CasStore, addr: string, size: number): Promise<Buffer> {
  const s = await new VerifiedReader(store, addr, { start: 0, end: size - 1 }, () =>
    assert.fail(`corrupt chunk in ${addr}`),
  ).open();
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

const open = (dir: string): CasStore =>
  new CasStore({ dir, maxObjectBytes: 1 << 22, maxBytes: 0, gcBatch: 3 });

test('a snapshot taken while uploads, deletes and GC race it restores every object acknowledged before it', async () => {
  const dir = fresh();
  const store = open(dir);
  const shared = bytes(CHUNK_SIZE, 1);
  const objects = new Map<string, Buffer>();
  const put = async (seed: number): Promise<string> => {
    // Objects share a chunk, so deletes leave chunks other objects still reference.
    const data = Buffer.concat([shared, bytes(CHUNK_SIZE + (seed % 5) * 1000, 100 + seed)]);
    const r = await store.put(once(data), data.length);
    objects.set(r.addr, data);
    return r.addr;
  };
  const doomed: string[] = [];
  for (let i = 0; i < 12; i++) (i % 3 === 0 ? doomed : []).push(await put(i));
  const before = new Map(objects);
  for (const a of doomed) before.delete(a);
  for (const a of doomed) await store.delete(a);
  // Deletes happened (rows still there until the GC): the race below frees them while copying.
  let stop = false;
  const racers = [
    (async () => {
      for (let i = 100; !stop; i++) await put(i);
    })(),
    (async () => {
      for (let i = 0; !stop; i++) {
        await store.gcStep();
        await new Promise((r) => setImmediate(r));
      }
    })(),
  ];
  const snap = join(fresh(), 'storage.db');
  const facts = await store.snapshot(snap);
  stop = true;
  await Promise.all(racers);
  for (;;) {
    const r = await store.gcStep();
    if (r.chunks === 0 && r.segments === 0) break;
  }
  store.close();
  assert.equal(facts.corrupt_chunks, 0);
  assert.ok(facts.objects >= before.size);

  const checked = verifyStorageSnapshot(snap);
  assert.equal(checked.chunks, facts.chunks);
  assert.equal(checked.bytes, facts.bytes);

  const target = join(fresh(), 'storage');
  restoreStorageSnapshot(snap, target);
  assert.deepEqual(readdirSync(join(target, '..')).sort(), ['storage'], 'no staging or old directory left');
  const restored = open(target);
  try {
    for (const [addr, data] of before) {
      const o = restored.get(addr);
      assert.ok(o !== undefined, `object ${addr} acknowledged before the snapshot is missing`);
      assert.equal(o.state, 'ok');
      assert.ok((await readAll(restored, addr, data.length)).equals(data));
    }
    const t = restored.totals();
    assert.equal(t.objects, facts.objects);
    // The restored store is a working store: uploads, deletes and GC go on.
    const more = bytes(3 * CHUNK_SIZE, 999);
    const r = await restored.put(once(more), more.length);
    assert.ok((await readAll(restored, r.addr, more.length)).equals(more));
    for (const addr of before.keys()) await restored.delete(addr);
    for (;;) {
      const g = await restored.gcStep();
      if (g.chunks === 0 && g.segments === 0) break;
    }
    assert.ok((await readAll(restored, r.addr, more.length)).equals(more));
  } finally {
    restored.close();
  }
});

test('a snapshot whose chunk bytes were changed is refused with the chunk named; restore replaces nothing', async () => {
  const dir = fresh();
  const store = open(dir);
  const data = bytes(2 * CHUNK_SIZE + 5, 7);
  await store.put(once(data), data.length);
  const snap = join(fresh(), 'storage.db');
  await store.snapshot(snap);
  store.close();
  const db = new Database(snap);
  const row = db
    .prepare<[], { hash: Buffer; data: Buffer }>(`SELECT hash, data FROM ${CHUNK_DATA_TABLE} LIMIT 1`)
    .get()!;
  row.data[100]! ^= 0x01;
  db.prepare(`UPDATE ${CHUNK_DATA_TABLE} SET data = ? WHERE hash = ?`).run(row.data, row.hash);
  db.close();
  assert.throws(
    () => verifyStorageSnapshot(snap),
    new RegExp(`chunk ${row.hash.toString('hex')}: its bytes do not match`),
  );

  // A snapshot missing a chunk an ok object needs is refused too.
  const db2 = new Database(snap);
  db2.prepare(`DELETE FROM ${CHUNK_DATA_TABLE} WHERE hash = ?`).run(row.hash);
  db2.close();
  assert.throws(() => verifyStorageSnapshot(snap), /has no data but an object marked ok holds it/);
  // A file that is not a storage snapshot at all.
  const plain = join(fresh(), 'plain.db');
  new Database(plain).exec('CREATE TABLE t (x)');
  assert.throws(() => verifyStorageSnapshot(plain), /not a storage snapshot/);
});

test('a chunk already corrupt on disk stays out of the snapshot; its object is marked corrupt there', async () => {
  const dir = fresh();
  const store = open(dir);
  const good = bytes(CHUNK_SIZE + 10, 21);
  const bad = bytes(2 * CHUNK_SIZE, 22);
  const g = await store.put(once(good), good.length);
  const b = await store.put(once(bad), bad.length);
  const loc = store.locate(b.addr, 1, 1)[0]!;
  const fd = openSync(store.segmentPath(loc.segment), 'r+');
  writeSync(
    fd,
    Buffer.from([readFileSync(store.segmentPath(loc.segment))[loc.off + 3]! ^ 0xff]),
    0,
    1,
    loc.off + 3,
  );
  closeSync(fd);
  const snap = join(fresh(), 'storage.db');
  const facts = await store.snapshot(snap);
  store.close();
  assert.equal(facts.corrupt_chunks, 1);
  const checked = verifyStorageSnapshot(snap);
  assert.equal(checked.corrupt_chunks, 1);
  const target = join(fresh(), 'storage');
  restoreStorageSnapshot(snap, target);
  const restored = open(target);
  try {
    assert.equal(restored.get(b.addr)?.state, 'corrupt');
    assert.equal(restored.get(g.addr)?.state, 'ok');
    assert.ok((await readAll(restored, g.addr, good.length)).equals(good));
    assert.ok(existsSync(restored.segmentPath(loc.segment)));
  } finally {
    restored.close();
  }
});
