// The registry store's writer thread (worker_threads): it owns the SQLite connection, runs every
// write through the kernel's GroupCommitWriter and every read between batches, and answers the main
// thread in batches. The point is where the COMMIT's fsync blocks: here, not on the event loop that
// verifies signatures and serves HTTP — while one batch is being made durable, the main thread keeps
// verifying and sealing the next commits, which join the next batch (sqlite-store.ts).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { GroupCommitWriter, openDurableSqlite } from '@ron/kernel/sqlite';
import { SCHEMA } from './sqlite-schema.js';
import type { ThreadReply, ThreadRequest, WireError } from './sqlite-wire.js';

const { path, signal, port } = workerData as { path: string; signal: Int32Array; port: MessagePort };

function wire(err: unknown): WireError {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; expected?: unknown; got?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.expected === 'number' ? { expected: e.expected } : {}),
    ...(typeof e?.got === 'number' ? { got: e.got } : {}),
  };
}

// Open synchronously while the main thread waits (Atomics.wait in the store's constructor).
let db: Database.Database | undefined;
try {
  db = openDurableSqlite(path, SCHEMA);
  port.postMessage({ ok: true });
} catch (err) {
  port.postMessage({ ok: false, error: wire(err) });
}
port.close();
Atomics.store(signal, 0, 1);
Atomics.notify(signal, 0);

if (db !== undefined) serve(db);

function serve(db: Database.Database): void {
  const insert = db.prepare<[number, string, string]>(
    'INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)',
  );
  const max = db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM registry_log');
  const range = db.prepare<[number, number], { version: number; entry: string }>(
    'SELECT version, entry FROM registry_log WHERE version > ? ORDER BY version LIMIT ?',
  );
  const get = db.prepare<[number], { version: number; entry: string }>(
    'SELECT version, entry FROM registry_log WHERE version = ?',
  );
  const last = db.prepare<[], { version: number; entry: string }>(
    'SELECT version, entry FROM registry_log ORDER BY version DESC LIMIT 1',
  );
  const putProposal = db.prepare<[string, string]>(
    'INSERT INTO registry_proposals (id, record) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record',
  );
  const getProposal = db.prepare<[string], { record: string }>(
    'SELECT record FROM registry_proposals WHERE id = ?',
  );
  const listProposals = db.prepare<[], { record: string }>(
    'SELECT record FROM registry_proposals ORDER BY id',
  );
  const delProposal = db.prepare<[string]>('DELETE FROM registry_proposals WHERE id = ?');
  const writer = new GroupCommitWriter(db);

  // Replies go back in one message per microtask drain: every write of a batch settles in the same
  // drain after its COMMIT, so one batch is one message.
  let out: ThreadReply[] = [];
  const send = (r: ThreadReply): void => {
    if (out.length === 0) queueMicrotask(flush);
    out.push(r);
  };
  const flush = (): void => {
    const batch = out;
    out = [];
    parentPort!.postMessage(batch);
  };
  const settle = (id: number, p: Promise<unknown>): void => {
    p.then(
      (value) => send({ id, ok: true, value }),
      (err: unknown) => send({ id, ok: false, error: wire(err) }),
    );
  };
  const now = (id: number, fn: () => unknown): void => {
    try {
      send({ id, ok: true, value: fn() });
    } catch (err) {
      send({ id, ok: false, error: wire(err) });
    }
  };

  parentPort!.on('message', (batch: ThreadRequest[]) => {
    for (const r of batch) {
      switch (r.op) {
        case 'append':
          settle(
            r.id,
            writer.write(
              () => {
                const want = (max.get()?.v ?? 0) + 1;
                if (r.version !== want)
                  throw Object.assign(new Error(`store expected version ${want}, got ${r.version}`), {
                    name: 'StoreConflictError',
                    expected: want,
                    got: r.version,
                  });
                insert.run(r.version, r.kind, r.json);
              },
              { bytes: r.json.length },
            ),
          );
          break;
        case 'putProposal':
          settle(
            r.id,
            writer.write(() => void putProposal.run(r.pid, r.json), { bytes: r.json.length }),
          );
          break;
        case 'deleteProposals':
          settle(
            r.id,
            writer.write(() => {
              for (const pid of r.ids) delProposal.run(pid);
            }),
          );
          break;
        // Reads run now, between batches: they see committed (durable) state only.
        case 'range':
          now(r.id, () => range.all(r.after, Math.max(0, r.limit)));
          break;
        case 'get':
          now(r.id, () => get.get(r.version) ?? null);
          break;
        case 'last':
          now(r.id, () => last.get() ?? null);
          break;
        case 'getProposal':
          now(r.id, () => getProposal.get(r.pid)?.record ?? null);
          break;
        case 'listProposals':
          now(r.id, () => listProposals.all().map((x) => x.record));
          break;
        case 'snapshot':
          settle(
            r.id,
            // Loaded on first use: it pulls in the hasher, which a store that is never backed up
            // need not load at start.
            import('@ron/kernel/backup').then(({ snapshotSqlite }) =>
              snapshotSqlite(db, r.dest, (p) => parentPort!.postMessage([{ id: r.id, progress: p }])),
            ),
          );
          break;
        case 'close':
          now(r.id, () => {
            writer.close();
            if (db.open) db.close();
          });
          break;
      }
    }
  });
}
