// One conformance suite, run against every store backend.
import assert from 'node:assert/strict';
import { describe, test, after, before } from 'node:test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { startPostgres, tempDir, type PgCluster } from '@ron/testkit';
import {
  MemoryStore,
  PgStore,
  Registry,
  SqliteStore,
  ZERO_B3,
  canonicalJson,
  initChain,
  seal,
  type LogEntry,
  type LogStore,
} from '../src/index.js';
import { ChainVerifier, storedTextMatches } from '../src/chain.js';
import { ChainError, StoreConflictError } from '../src/errors.js';
import { type ProposalRecord } from '../src/store.js';

const dir = tempDir('ron-registry-store-');
after(() => dir.remove());
let n = 0;

await initChain();

function chainOf(count: number, start = 1, prev = ZERO_B3): LogEntry[] {
  const out: LogEntry[] = [];
  for (let v = start; v < start + count; v++) {
    const e = seal({
      version: v,
      op: 'commit',
      payload_b3: `b3:p${v}`,
      prev_b3: prev,
      committed_at: new Date(0).toISOString(),
      signatures: [],
    });
    out.push(e);
    prev = e.entry_b3;
  }
  return out;
}

// One throwaway PostgreSQL cluster for the file; every test gets its own database. Without the
// binaries startPostgres() fails naming the package to install (the suite never skips).
let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(() => cluster?.destroy());
let pgN = 0;
// PgStore.location is redacted for logs; the tests keep each store's real URL.
const pgUrls = new WeakMap<LogStore, string>();

const backends: {
  name: string;
  make: () => LogStore | Promise<LogStore>;
  reopen?: (s: LogStore) => LogStore | Promise<LogStore>;
}[] = [
  { name: 'memory', make: () => new MemoryStore() },
  {
    name: 'sqlite',
    make: () => new SqliteStore(join(dir.path, `s${n++}`, 'registry.db')),
    reopen: (s) => new SqliteStore(s.location),
  },
  {
    name: 'postgres',
    make: async () => {
      const url = await cluster!.database(`conf${pgN++}`);
      const s = await PgStore.open(url);
      pgUrls.set(s, url);
      return s;
    },
    reopen: (s) => PgStore.open(pgUrls.get(s)!),
  },
];

for (const b of backends) {
  describe(`store conformance: ${b.name}`, () => {
    test('empty store: no last entry, floor 1, empty range', async () => {
      const s = await b.make();
      assert.equal(await s.last(), undefined);
      assert.equal(s.floor(), 1);
      assert.deepEqual(await s.range(0, 10), []);
      assert.equal(await s.get(1), undefined);
      assert.equal(s.isOpen(), true);
      await s.close();
      assert.equal(s.isOpen(), false);
    });

    test('append then read back: exact entries, ascending, range bounds and limits', async () => {
      const s = await b.make();
      const es = chainOf(25);
      for (const e of es) await s.append(e);
      assert.deepEqual(await s.last(), es[24]);
      assert.deepEqual(await s.get(7), es[6]);
      assert.equal(await s.get(26), undefined);
      assert.deepEqual(await s.range(0, 100), es);
      assert.deepEqual(await s.range(10, 5), es.slice(10, 15));
      assert.deepEqual(await s.range(25, 5), []);
      assert.deepEqual(await s.range(3, 0), []);
      await s.close();
    });

    test('rangeStored (stores that keep text): the entries of range, each with its canonical stored text', async () => {
      const s = await b.make();
      if (b.name === 'memory') {
        // Entries kept as objects: boot replay canonicalizes them.
        assert.equal('rangeStored' in s, false);
        await s.close();
        return;
      }
      assert.ok(s.rangeStored !== undefined);
      const es = chainOf(25);
      for (const e of es) await s.append(e);
      const stored = await s.rangeStored(10, 5);
      assert.deepEqual(
        stored.map((x) => x.entry),
        es.slice(10, 15),
      );
      for (const { entry, text } of stored) {
        assert.equal(text, canonicalJson(entry));
        assert.equal(storedTextMatches(entry, text), true);
      }
      assert.deepEqual(await s.rangeStored(25, 5), []);
      await s.close();
    });

    test('append refuses anything but last+1 (no gap, no overwrite)', async () => {
      const s = await b.make();
      const es = chainOf(3);
      await assert.rejects(s.append(es[1]!), StoreConflictError);
      await s.append(es[0]!);
      await assert.rejects(s.append(es[0]!), StoreConflictError);
      await assert.rejects(s.append(es[2]!), StoreConflictError);
      await s.append(es[1]!);
      assert.equal((await s.last())?.version, 2);
      await s.close();
    });

    test('stored entries are immutable to callers', async () => {
      const s = await b.make();
      const [e] = chainOf(1);
      await s.append(e!);
      e!.payload_b3 = 'b3:changed';
      const got = await s.get(1);
      assert.equal(got?.payload_b3, 'b3:p1');
      await s.close();
    });

    if (b.reopen) {
      test('durable: a reopened store has every appended entry', async () => {
        const s = await b.make();
        const es = chainOf(10);
        for (const e of es) await s.append(e);
        await s.close();
        const s2 = await b.reopen!(s);
        assert.deepEqual(await s2.range(0, 100), es);
        await s2.close();
      });
    }

    test('proposals: put, get, replace, list in id order, delete; records are copies', async () => {
      const s = await b.make();
      assert.deepEqual(await s.listProposals(), []);
      assert.equal(await s.getProposal('01A'), undefined);
      const rec = (id: string, sigs = 0): ProposalRecord => ({
        id,
        subject: {
          op: 'publish',
          descriptor: {
            id: `svc-${id.toLowerCase()}`,
            kind: 'service',
            version: 1,
            body: { region: 'r', addr: 'h:1' },
          },
        },
        signatures: Array.from({ length: sigs }, (_, i) => ({
          signer_id: `ed25519:${i}`,
          alg: 'ed25519' as const,
          sig: 'AA',
        })),
        created_at: 1000,
        expires_at: 2000,
      });
      const b1 = rec('01B');
      await s.putProposal(b1);
      await s.putProposal(rec('01A'));
      b1.signatures.push({ signer_id: 'ed25519:x', alg: 'ed25519', sig: 'AA' });
      assert.deepEqual(await s.getProposal('01B'), rec('01B'));
      await s.putProposal({
        ...rec('01B', 2),
        applied: { version: 7, committed_at: '2026-01-01T00:00:00.000Z' },
      });
      assert.deepEqual(await s.getProposal('01B'), {
        ...rec('01B', 2),
        applied: { version: 7, committed_at: '2026-01-01T00:00:00.000Z' },
      });
      assert.deepEqual(
        (await s.listProposals()).map((p) => p.id),
        ['01A', '01B'],
      );
      await s.deleteProposals(['01A', '01NOPE']);
      assert.deepEqual(
        (await s.listProposals()).map((p) => p.id),
        ['01B'],
      );
      // The log is untouched by proposals.
      assert.equal(await s.last(), undefined);
      await s.close();
    });

    if (b.reopen) {
      test('proposals are durable: a reopened store has them', async () => {
        const s = await b.make();
        const p: ProposalRecord = {
          id: '01P',
          subject: { op: 'signers', signers: { version: 2, signers: ['ed25519:a'], threshold: 1 } },
          signatures: [{ signer_id: 'ed25519:a', alg: 'ed25519', sig: 'AA' }],
          created_at: 5,
          expires_at: 6,
        };
        await s.putProposal(p);
        await s.close();
        const s2 = await b.reopen!(s);
        assert.deepEqual(await s2.listProposals(), [p]);
        await s2.close();
      });
    }

    test('property: any append sequence yields contiguous versions and a verifiable chain', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.boolean(), { maxLength: 30 }), async (plan) => {
          const s = await b.make();
          const es = chainOf(plan.length);
          let next = 0;
          for (const good of plan) {
            if (good) await s.append(es[next++]!);
            else await assert.rejects(s.append(es[next + 1] ?? { ...es[0]!, version: 0 }));
          }
          const got = await s.range(0, 1000);
          assert.equal(got.length, next);
          const v = new ChainVerifier();
          for (const e of got) v.push(e);
          await s.close();
        }),
        { numRuns: 20 },
      );
    });
  });
}

test('sqlite: the log table is append-only in the schema (UPDATE, DELETE, REPLACE, INSERT OR REPLACE, upsert, gap refused)', async () => {
  const path = join(dir.path, 'ao', 'registry.db');
  const s = new SqliteStore(path);
  const es = chainOf(4);
  for (const e of es.slice(0, 3)) await s.append(e);
  await s.close();
  const db = new Database(path);
  const rows = (): unknown[] =>
    db.prepare('SELECT version, op, entry FROM registry_log ORDER BY version').all();
  const before = rows();
  const forged = JSON.stringify({ ...es[1]!, payload_b3: 'b3:evil' });
  const refused = [
    "UPDATE registry_log SET op = 'x' WHERE version = 1",
    'DELETE FROM registry_log WHERE version = 2',
    "INSERT INTO registry_log (version, op, entry) VALUES (1, 'commit', '{}')",
    // REPLACE deletes the old row without firing the delete trigger: the insert trigger must refuse it.
    `REPLACE INTO registry_log (version, op, entry) VALUES (2, 'commit', '${forged}')`,
    `INSERT OR REPLACE INTO registry_log (version, op, entry) VALUES (2, 'commit', '${forged}')`,
    `INSERT INTO registry_log (version, op, entry) VALUES (2, 'commit', '${forged}') ON CONFLICT(version) DO UPDATE SET entry = excluded.entry`,
    `INSERT OR IGNORE INTO registry_log (version, op, entry) VALUES (2, 'commit', '${forged}')`,
    // A gap, a version below the head and an auto-assigned rowid are not head + 1 either.
    "INSERT INTO registry_log (version, op, entry) VALUES (9, 'commit', '{}')",
    "INSERT OR REPLACE INTO registry_log (version, op, entry) VALUES (9, 'commit', '{}')",
    "INSERT INTO registry_log (op, entry) VALUES ('commit', '{}')",
  ];
  for (const sql of refused) assert.throws(() => db.prepare(sql).run(), /append-only/, sql);
  assert.deepEqual(rows(), before);
  // The one insert the schema allows is the next version.
  db.prepare('INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)').run(
    4,
    'commit',
    JSON.stringify(es[3]),
  );
  assert.equal(rows().length, 4);
  db.close();
});

test('sqlite: a database made with the old schema gets the insert trigger on open (migration)', async () => {
  const path = join(dir.path, 'migrate', 'registry.db');
  mkdirSync(dirname(path), { recursive: true });
  const old = new Database(path);
  // Schema 1: no BEFORE INSERT trigger.
  old.exec(`
    CREATE TABLE registry_log (version INTEGER PRIMARY KEY NOT NULL CHECK (version >= 1), op TEXT NOT NULL, entry TEXT NOT NULL);
    CREATE TRIGGER registry_log_no_update BEFORE UPDATE ON registry_log BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: UPDATE refused'); END;
    CREATE TRIGGER registry_log_no_delete BEFORE DELETE ON registry_log BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: DELETE refused'); END;
    CREATE TABLE registry_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
    INSERT INTO registry_meta (key, value) VALUES ('schema', '1');`);
  const es = chainOf(3);
  for (const e of es.slice(0, 2))
    old
      .prepare('INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)')
      .run(e.version, e.op, JSON.stringify(e));
  old
    .prepare("REPLACE INTO registry_log (version, op, entry) VALUES (2, 'commit', ?)")
    .run(JSON.stringify(es[1])); // the hole
  old.close();
  const s = new SqliteStore(path);
  assert.deepEqual(await s.range(0, 10), es.slice(0, 2));
  await s.close();
  const db = new Database(path);
  assert.throws(
    () => db.prepare("REPLACE INTO registry_log (version, op, entry) VALUES (2, 'commit', '{}')").run(),
    /append-only/,
  );
  assert.equal(
    (db.prepare("SELECT value FROM registry_meta WHERE key = 'schema'").get() as { value: string }).value,
    '2',
  );
  db.close();
  const s2 = new SqliteStore(path);
  await s2.append(es[2]!);
  assert.equal((await s2.last())?.version, 3);
  await s2.close();
});

test('memory store with retention: floor rises, old entries are gone, recent ones remain', async () => {
  const s = new MemoryStore({ retain: 5 });
  for (const e of chainOf(20)) await s.append(e);
  assert.equal(s.floor(), 16);
  assert.equal(await s.get(15), undefined);
  assert.equal((await s.get(16))?.version, 16);
  assert.deepEqual(
    (await s.range(0, 100)).map((e) => e.version),
    [16, 17, 18, 19, 20],
  );
});

test('boot replay verifies the chain and restores the head', async () => {
  const path = join(dir.path, 'boot', 'registry.db');
  const s = new SqliteStore(path);
  const es = chainOf(30);
  for (const e of es) await s.append(e);
  const { registry, replay } = await Registry.open(s, { registryId: 'default', signers: [], threshold: 1 });
  assert.equal(replay.entries, 30);
  assert.deepEqual(registry.head, {
    version: 30,
    payload_b3: 'b3:p30',
    committed_at: es[29]!.committed_at,
    chain_b3: es[29]!.entry_b3,
  });
  await s.close();
});

test('boot replay: an entry another replica appends while boot reads the log is replayed, not taken for a gap', async () => {
  const es = chainOf(31);
  const inner = new MemoryStore();
  for (const e of es.slice(0, 30)) await inner.append(e);
  let appended = false;
  // The append lands just before boot asks for the head (PostgreSQL: another replica writing).
  const store: LogStore = {
    kind: inner.kind,
    location: inner.location,
    append: (e) => inner.append(e),
    range: (after, limit) => inner.range(after, limit),
    get: (v) => inner.get(v),
    last: async () => {
      if (!appended) {
        appended = true;
        await inner.append(es[30]!);
      }
      return inner.last();
    },
    putProposal: (p) => inner.putProposal(p),
    getProposal: (id) => inner.getProposal(id),
    listProposals: () => inner.listProposals(),
    deleteProposals: (ids) => inner.deleteProposals(ids),
    floor: () => inner.floor(),
    isOpen: () => inner.isOpen(),
    close: () => inner.close(),
  };
  const { registry, replay } = await Registry.open(store, {
    registryId: 'default',
    signers: [],
    threshold: 1,
    readCacheCap: 8,
  });
  assert.equal(replay.entries, 31);
  assert.equal(registry.head.version, 31);
  // The read cache holds the newest entries; older ones come from the store.
  assert.deepEqual(await registry.entry(31), es[30]);
  assert.deepEqual(await registry.range(0, 100), es);
  await store.close();
});

test('a broken chain refuses to open and names the first bad version', async () => {
  const path = join(dir.path, 'broken', 'registry.db');
  const s = new SqliteStore(path);
  for (const e of chainOf(12)) await s.append(e);
  await s.close();
  // Someone with file access drops the guard and rewrites history at version 7.
  const db = new Database(path);
  db.exec('DROP TRIGGER registry_log_no_update');
  const row = db.prepare('SELECT entry FROM registry_log WHERE version = 7').get() as { entry: string };
  db.close();
  const original = row.entry;
  const rewrite = (text: string): void => {
    const d = new Database(path);
    d.exec('DROP TRIGGER IF EXISTS registry_log_no_update'); // the store puts it back on open
    d.prepare('UPDATE registry_log SET entry = ? WHERE version = 7').run(text);
    d.close();
  };
  const tampered = { ...(JSON.parse(original) as LogEntry), payload_b3: 'b3:evil' };
  // Stored as plain JSON.stringify text, and as canonical text (the form boot hashes directly).
  for (const text of [JSON.stringify(tampered), canonicalJson(tampered)]) {
    rewrite(text);
    const s2 = new SqliteStore(path);
    await assert.rejects(
      Registry.open(s2, { registryId: 'default', signers: [], threshold: 1 }),
      (err: unknown) => {
        assert.ok(err instanceof ChainError);
        assert.equal(err.version, 7);
        assert.match(err.message, /version 7/);
        return true;
      },
    );
    await s2.close();
  }
  // The untampered row stored as non-canonical text (keys in another order) still verifies.
  const { version: v7, ...rest7 } = JSON.parse(original) as LogEntry;
  rewrite(JSON.stringify({ version: v7, ...rest7 }));
  const s3 = new SqliteStore(path);
  const { replay } = await Registry.open(s3, { registryId: 'default', signers: [], threshold: 1 });
  assert.equal(replay.entries, 12);
  await s3.close();
});

test('storedTextMatches: true for the canonical text of a sealed entry (any body), false for a tampered or non-canonical text', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom('publish', 'commit'), fc.string(), (body, op, junk) => {
      const e = seal({
        version: 1,
        op: op as LogEntry['op'],
        ...(op === 'publish' ? { descriptor_id: 'svc-a', body: { nested: { entry_b3: 'b3:x' }, body } } : {}),
        payload_b3: 'b3:p',
        prev_b3: ZERO_B3,
        committed_at: new Date(0).toISOString(),
        signatures: [{ signer_id: 'ed25519:k', alg: 'ed25519', sig: 'c2ln' }],
      });
      const text = canonicalJson(e);
      assert.equal(storedTextMatches(e, text), true);
      const edited = { ...e, payload_b3: `b3:${junk}x` };
      assert.equal(storedTextMatches(edited, canonicalJson(edited)), false);
      const bytesEdited = text.replace('"payload_b3":"b3:p"', '"payload_b3":"b3:q"');
      assert.equal(storedTextMatches(JSON.parse(bytesEdited) as LogEntry, bytesEdited), false);
      const { version, ...rest } = e;
      const reordered = JSON.stringify({ version, ...rest }); // same content, version first
      assert.equal(storedTextMatches(e, reordered), false);
      // The verifier falls back to canonicalizing the entry: a valid entry still passes.
      new ChainVerifier().push(e, reordered);
    }),
    { numRuns: 100 },
  );
});

test('chain verifier: gaps, wrong prev and edited content are each caught at the right version', () => {
  const es = chainOf(5);
  const check = (list: LogEntry[]): number | undefined => {
    const v = new ChainVerifier();
    try {
      for (const e of list) v.push(e);
      return undefined;
    } catch (e) {
      return (e as ChainError).version;
    }
  };
  assert.equal(check(es), undefined);
  assert.equal(check([es[0]!, es[2]!]), 2);
  assert.equal(check([es[0]!, { ...es[1]!, prev_b3: ZERO_B3 }]), 2);
  assert.equal(check([es[0]!, es[1]!, { ...es[2]!, committed_at: new Date(1).toISOString() }]), 3);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4 }), fc.string({ minLength: 1 }), (i, junk) => {
      const copy = es.map((e) => ({ ...e }));
      copy[i]!.payload_b3 = `b3:${junk}x`;
      assert.equal(check(copy), i + 1);
    }),
    { numRuns: 50 },
  );
});
