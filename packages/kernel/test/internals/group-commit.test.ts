// The group-commit writer (src/group-commit.ts): batching, savepoint isolation, bounds, COMMIT
// failures, close(), and a fast-check property over random mixes of succeeding and failing writes.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GroupCommitWriter,
  WriterClosedError,
  durableWriteError,
  openDurableSqlite,
  type BatchStats,
  type Database,
} from '../../src/sqlite.js';

const dir = { path: mkdtempSync(join(tmpdir(), 'ron-gc-')) };
after(() => rmSync(dir.path, { recursive: true, force: true }));
let n = 0;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, op INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
`;

function open(path = `${dir.path}/gc-${n++}.db`): { db: Database; path: string } {
  const db = openDurableSqlite(path, SCHEMA);
  db.pragma('foreign_keys = ON');
  return { db, path };
}

/** Rows of `log` in commit order, read back from the file after a close (what survived). */
function durableLog(path: string): number[] {
  const { db } = open(path);
  try {
    return db
      .prepare<[], { op: number }>('SELECT op FROM log ORDER BY seq')
      .all()
      .map((r) => r.op);
  } finally {
    db.close();
  }
}

const settle = <T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

test('a lone write commits in the same event-loop turn: no timer, settled before a later setImmediate', async () => {
  const { db, path } = open();
  const w = new GroupCommitWriter(db);
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  let settled = false;
  const p = w
    .write(() => ins.run(1).changes)
    .then((v) => {
      settled = true;
      return v;
    });
  assert.equal(w.pending, 1);
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(settled, true, 'the write settled in the check phase it was scheduled for');
  assert.equal(await p, 1);
  assert.equal(db.inTransaction, false);
  db.close();
  assert.deepEqual(durableLog(path), [1]);
});

test('writes submitted in the same turn share one transaction; each resolves with its own result', async () => {
  const { db } = open();
  const batches: BatchStats[] = [];
  const w = new GroupCommitWriter(db, { onCommit: (s) => batches.push(s) });
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  const seen: boolean[] = [];
  const ps = Array.from({ length: 10 }, (_, i) =>
    w.write(
      () => {
        seen.push(db.inTransaction);
        return Number(ins.run(i).lastInsertRowid);
      },
      { bytes: 10 },
    ),
  );
  assert.deepEqual(await Promise.all(ps), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(w.stats, { batches: 1, writes: 10 });
  assert.equal(batches.length, 1);
  assert.equal(batches[0]!.writes, 10);
  assert.equal(batches[0]!.bytes, 100);
  assert.equal(batches[0]!.failed, 0);
  assert.ok(seen.every(Boolean), 'each write ran inside the batch transaction');
  db.close();
});

test('a write that throws is undone to its savepoint and fails alone; its batch-mates commit', async () => {
  const { db, path } = open();
  const w = new GroupCommitWriter(db);
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  const put = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
  const boom = new Error('refused');
  const results = await Promise.all([
    settle(w.write(() => ins.run(1).changes)),
    settle(
      w.write(() => {
        ins.run(2); // applied, then undone with the savepoint
        throw boom;
      }),
    ),
    settle(w.write(() => put.run('a', 'x').changes)),
    settle(w.write(() => put.run('a', 'dup').changes)), // UNIQUE constraint: fails alone
    settle(w.write(() => ins.run(5).changes)),
  ]);
  assert.equal(w.stats.batches, 1);
  assert.deepEqual(results[0], { ok: true, value: 1 });
  assert.deepEqual(results[1], { ok: false, error: boom });
  assert.deepEqual(results[2], { ok: true, value: 1 });
  assert.equal(results[3].ok, false);
  assert.match(String((results[3] as { error: { code: string } }).error.code), /SQLITE_CONSTRAINT/);
  assert.deepEqual(results[4], { ok: true, value: 1 });
  db.close();
  assert.deepEqual(durableLog(path), [1, 5]);
  const again = open(path).db;
  assert.deepEqual(again.prepare('SELECT k, v FROM kv').all(), [{ k: 'a', v: 'x' }]);
  again.close();
});

test('a lone write that throws is undone with its transaction and fails alone; the next write commits', async () => {
  const { db, path } = open();
  const batches: BatchStats[] = [];
  const w = new GroupCommitWriter(db, { onCommit: (s) => batches.push(s) });
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  const boom = new Error('refused');
  const r1 = await settle(
    w.write(() => {
      ins.run(1); // applied, then undone: a batch of one runs without a savepoint
      throw boom;
    }),
  );
  assert.deepEqual(r1, { ok: false, error: boom });
  assert.equal(db.inTransaction, false);
  const r2 = await settle(w.write(() => ins.run(2).changes));
  assert.deepEqual(r2, { ok: true, value: 1 });
  assert.deepEqual(
    batches.map((b) => [b.writes, b.failed]),
    [
      [1, 1],
      [1, 0],
    ],
  );
  db.close();
  assert.deepEqual(durableLog(path), [2]);
});

test('a write sees its earlier batch-mates (they commit together, in order)', async () => {
  const { db } = open();
  const w = new GroupCommitWriter(db);
  const get = db.prepare<[string], { v: string }>('SELECT v FROM kv WHERE k = ?');
  const put = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v');
  // Compare-and-set: only a write that finds the key absent may create it.
  const cas = (v: string): Promise<string> =>
    w.write(() => {
      if (get.get('k') !== undefined) return 'exists';
      put.run('k', v);
      return 'created';
    });
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => cas(`v${i}`)));
  assert.deepEqual(rs, ['created', ...Array<string>(19).fill('exists')]);
  assert.equal(get.get('k')!.v, 'v0');
  db.close();
});

test('batches are bounded in writes and in bytes (at least one write each)', async () => {
  const { db, path } = open();
  const sizes: number[] = [];
  const w = new GroupCommitWriter(db, {
    maxBatchWrites: 3,
    maxBatchBytes: 100,
    onCommit: (s) => sizes.push(s.writes),
  });
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  const bytes = [10, 10, 10, 10, 60, 50, 500, 1, 1];
  await Promise.all(bytes.map((b, i) => w.write(() => ins.run(i), { bytes: b })));
  // [10,10,10] (3 writes) [10,60] (80; +50 would exceed 100) [50] [500 alone: over the bound but ≥ 1] [1,1]
  assert.deepEqual(sizes, [3, 2, 1, 1, 2]);
  db.close();
  assert.deepEqual(durableLog(path), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => new GroupCommitWriter(open().db, { maxBatchWrites: 0 }), RangeError);
});

test('a failed COMMIT fails every write of its batch, and the next batch works', async () => {
  const { db, path } = open();
  const batches: BatchStats[] = [];
  const w = new GroupCommitWriter(db, { onCommit: (s) => batches.push(s) });
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  // A deferred foreign key passes the statement and fails only at COMMIT.
  const orphan = db.prepare('INSERT INTO child (id, parent) VALUES (1, 42)');
  const rs = await Promise.all([
    settle(w.write(() => ins.run(1))),
    settle(w.write(() => orphan.run())),
    settle(w.write(() => ins.run(3))),
  ]);
  for (const r of rs) {
    assert.equal(r.ok, false);
    assert.match(String((r as { error: { code: string } }).error.code), /SQLITE_CONSTRAINT/);
  }
  assert.equal(batches[0]!.failed, 3);
  assert.notEqual(batches[0]!.error, undefined);
  assert.equal(db.inTransaction, false);
  await w.write(() => ins.run(4));
  db.close();
  assert.deepEqual(durableLog(path), [4]);
});

test('a write that ends the whole transaction fails the writes before it; the rest go to the next batch', async () => {
  const { db, path } = open();
  const w = new GroupCommitWriter(db);
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  const fatal = new Error('disk gone');
  const rs = await Promise.all([
    settle(w.write(() => ins.run(1).changes)),
    settle(
      w.write(() => {
        // What SQLITE_FULL or an I/O error does: SQLite rolls the whole transaction back.
        db.exec('ROLLBACK');
        throw fatal;
      }),
    ),
    settle(w.write(() => ins.run(3).changes)),
  ]);
  assert.deepEqual(rs[0], { ok: false, error: fatal });
  assert.deepEqual(rs[1], { ok: false, error: fatal });
  assert.deepEqual(rs[2], { ok: true, value: 1 });
  assert.equal(w.stats.batches, 2);
  db.close();
  assert.deepEqual(durableLog(path), [3]);
});

test('close() commits what is queued, then refuses new writes', async () => {
  const { db, path } = open();
  const w = new GroupCommitWriter(db, { maxBatchWrites: 2 });
  const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
  const ps = [1, 2, 3, 4, 5].map((i) => w.write(() => ins.run(i).changes));
  w.close();
  assert.equal(w.pending, 0);
  assert.equal(w.closed, true);
  assert.deepEqual(await Promise.all(ps), [1, 1, 1, 1, 1]);
  await assert.rejects(
    w.write(() => ins.run(6)),
    (e: unknown) => e instanceof WriterClosedError && e.code === 'WRITER_CLOSED',
  );
  w.close();
  db.close();
  assert.deepEqual(durableLog(path), [1, 2, 3, 4, 5]);
});

test('writes queued on a database closed underneath the writer are refused, not lost silently', async () => {
  const { db } = open();
  const w = new GroupCommitWriter(db);
  const p = w.write(() => 1);
  db.close();
  await assert.rejects(p, WriterClosedError);
  assert.equal(w.closed, true);
});

type Kind = 'ok' | 'throw' | 'constraint';
const opArb = fc.record({
  kind: fc.constantFrom<Kind>('ok', 'ok', 'ok', 'throw', 'constraint'),
  // Writes of one group are submitted in the same turn; the next group after an await.
  group: fc.nat(3),
});

test('property: random mixes of succeeding and failing writes — exactly the successful ones are durable, in order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { maxLength: 40 }),
      fc.integer({ min: 1, max: 8 }),
      async (ops, maxBatchWrites) => {
        const { db, path } = open();
        const w = new GroupCommitWriter(db, { maxBatchWrites });
        const ins = db.prepare('INSERT INTO log (op) VALUES (?)');
        const put = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
        put.run('taken', 'x');
        const order: number[] = [];
        const all: Promise<{ ok: boolean }>[] = [];
        let g = 0;
        for (let i = 0; i < ops.length; i++) {
          const o = ops[i]!;
          if (o.group !== g) {
            g = o.group;
            await new Promise<void>((r) => setImmediate(r));
          }
          const p = w.write(() => {
            ins.run(i);
            if (o.kind === 'throw') throw new Error(`op ${i} refused`);
            if (o.kind === 'constraint') put.run('taken', `op${i}`);
            return i;
          });
          all.push(
            settle(p).then((r) => {
              order.push(i);
              if (o.kind === 'ok') assert.deepEqual(r, { ok: true, value: i });
              else assert.equal(r.ok, false, `op ${i} (${o.kind}) must fail`);
              return r;
            }),
          );
        }
        await Promise.all(all);
        assert.deepEqual(
          order,
          ops.map((_, i) => i),
          'promises settle in submission order',
        );
        w.close();
        db.close();
        const want = ops.flatMap((o, i) => (o.kind === 'ok' ? [i] : []));
        assert.deepEqual(durableLog(path), want);
      },
    ),
    { numRuns: 60 },
  );
});

test('durableWriteError: a full disk (SQLite or PostgreSQL) is 507, I/O and lock failures 503, a closing store NotReady, anything else undefined', () => {
  const code = (c: string): Error => Object.assign(new Error(c), { code: c });
  assert.equal(durableWriteError(code('SQLITE_FULL'))?.code, 'InsufficientStorage');
  assert.equal(durableWriteError(code('53100'))?.code, 'InsufficientStorage');
  assert.equal(durableWriteError(code('SQLITE_IOERR_FSYNC'))?.code, 'StoreUnavailable');
  assert.equal(durableWriteError(code('SQLITE_BUSY'))?.code, 'StoreUnavailable');
  assert.equal(durableWriteError(new WriterClosedError())?.code, 'NotReady');
  assert.equal(durableWriteError(code('SQLITE_CONSTRAINT_PRIMARYKEY')), undefined);
  assert.equal(
    durableWriteError(code('23505')),
    undefined,
    'a PostgreSQL unique violation is not a store failure',
  );
  assert.equal(durableWriteError(new Error('SQLITE_FULL in the message only')), undefined);
});
