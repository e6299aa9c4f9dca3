// PgStore against a real throwaway PostgreSQL cluster (testkit): the append-only schema, the chain
// link checked inside the appending transaction (two stores racing on one database never fork),
// and an unreachable database reported as such.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type PgCluster } from '@ron/testkit';
import { PgStore, ZERO_B3, initChain, seal, type LogEntry } from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { StoreConflictError } from '../src/errors.js';

let cluster: PgCluster;
before(async () => {
  cluster = await startPostgres();
  await initChain();
});
after(() => cluster?.destroy());

function next(prev: LogEntry | undefined, tag: string): LogEntry {
  return seal({
    version: (prev?.version ?? 0) + 1,
    op: 'commit',
    payload_b3: `b3:${tag}`,
    prev_b3: prev?.entry_b3 ?? ZERO_B3,
    committed_at: new Date(0).toISOString(),
    signatures: [],
  });
}

test('append-only in the schema: UPDATE, DELETE, TRUNCATE, upsert and gap inserts are refused', async () => {
  const url = await cluster.database('schema_t');
  const s = await PgStore.open(url);
  const e1 = next(undefined, 'a');
  await s.append(e1);
  await s.append(next(e1, 'b'));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const refused = async (sql: string): Promise<void> => {
    await assert.rejects(c.query(sql), /append-only/, sql);
  };
  await refused(`UPDATE registry_log SET entry = '{}' WHERE version = 1`);
  await refused(`DELETE FROM registry_log WHERE version = 2`);
  await refused(`TRUNCATE registry_log`);
  await refused(
    `INSERT INTO registry_log (version, op, entry) VALUES (1, 'commit', '{}') ON CONFLICT (version) DO UPDATE SET entry = excluded.entry`,
  );
  await refused(`INSERT INTO registry_log (version, op, entry) VALUES (7, 'commit', '{}')`);
  const rows = await c.query<{ n: string }>('SELECT count(*) AS n FROM registry_log');
  assert.equal(rows.rows[0]!.n, '2');
  await c.end();
  assert.deepEqual(
    (await s.range(0, 10)).map((e) => e.version),
    [1, 2],
  );
  assert.equal((await s.last())?.version, 2);
  assert.equal((await s.get(2))?.payload_b3, 'b3:b');
  await s.close();
});

test('two stores racing on one database never fork the log: each version is won once, the chain verifies', async () => {
  const url = await cluster.database('race_t');
  const a = await PgStore.open(url);
  const b = await PgStore.open(url);
  const won: Record<string, number> = { a: 0, b: 0 };
  const writer = async (name: string, s: PgStore): Promise<void> => {
    for (let i = 0; i < 60;) {
      const head = await s.last();
      try {
        await s.append(next(head, `${name}${i}`));
        won[name]!++;
        i++;
      } catch (err) {
        assert.ok(err instanceof StoreConflictError, String(err));
      }
    }
  };
  await Promise.all([writer('a', a), writer('b', b), writer('a', a), writer('b', b)]);
  const all = await a.range(0, 1000);
  assert.equal(all.length, 240);
  const v = new ChainVerifier();
  for (const e of all) v.push(e);
  assert.equal(won.a! + won.b!, 240);
  await a.close();
  await b.close();
});

test('a stale entry (behind the head or on another branch) is a conflict, not an append', async () => {
  const s = await PgStore.open(await cluster.database('stale_t'));
  const e1 = next(undefined, 'x');
  await s.append(e1);
  await assert.rejects(s.append(next(undefined, 'y')), StoreConflictError);
  const fork = seal({ ...next(e1, 'z'), prev_b3: 'b3:other' });
  await assert.rejects(s.append(fork), StoreConflictError);
  assert.equal((await s.last())?.version, 1);
  await s.close();
});

test('follow() wakes on another writer’s append (LISTEN/NOTIFY)', async () => {
  const url = await cluster.database('follow_t');
  const writer = await PgStore.open(url);
  const reader = await PgStore.open(url, { pollMs: 60_000 });
  let wakes = 0;
  reader.follow(() => wakes++);
  await new Promise((r) => setTimeout(r, 300));
  const before = wakes;
  await writer.append(next(undefined, 'n'));
  const deadline = Date.now() + 10_000;
  while (wakes === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(wakes > before, 'no wake-up after a NOTIFY');
  await writer.close();
  await reader.close();
});
