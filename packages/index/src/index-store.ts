import type Database from 'better-sqlite3';
import { GroupCommitWriter, openDurableSqlite } from '@ron/kernel/sqlite';
import { snapshotSqlite } from '@ron/kernel/backup';

// Names → {addr, meta} (SPEC §4.5.2). Every write appends a version to `history`; versions of a
// name only grow (a deleted and re-created name continues its numbering), so an ETag never
// matches a different binding than the one it was read from.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS names (
  name       TEXT PRIMARY KEY,
  addr       TEXT NOT NULL,
  meta       TEXT,
  version    INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
  name    TEXT NOT NULL,
  version INTEGER NOT NULL,
  addr    TEXT,
  meta    TEXT,
  at      INTEGER NOT NULL,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
`;

export interface Binding {
  name: string;
  addr: string;
  meta: unknown;
  version: number;
  updated_at: number;
}

export interface HistoryEntry {
  version: number;
  /** null for a deletion. */
  addr: string | null;
  meta: unknown;
  at: number;
}

/** `If-Match` / `If-None-Match` as parsed versions or '*'. */
export interface Precondition {
  ifMatch?: '*' | number[];
  ifNoneMatch?: '*' | number[];
}

export type PutResult = { kind: 'created' | 'replaced'; version: number } | { kind: 'precondition_failed' };
export type DeleteResult = 'deleted' | 'not_found' | 'precondition_failed';

interface NameRow {
  name: string;
  addr: string;
  meta: string | null;
  version: number;
  updated_at: number;
}

function holds(cur: number | undefined, c: Precondition): boolean {
  if (c.ifMatch !== undefined) {
    if (cur === undefined) return false;
    if (c.ifMatch !== '*' && !c.ifMatch.includes(cur)) return false;
  }
  if (c.ifNoneMatch !== undefined) {
    if (c.ifNoneMatch === '*') return cur === undefined;
    if (cur !== undefined && c.ifNoneMatch.includes(cur)) return false;
  }
  return true;
}

const parseMeta = (m: string | null): unknown => (m === null ? null : JSON.parse(m));

/**
 * The index's SQLite store: WAL with synchronous=FULL; writes go through the kernel's group-commit
 * writer (the writes of one event-loop turn share one transaction and one fsync, each in its own
 * savepoint), so a write's promise settles only after the COMMIT containing it returned.
 * Compare-and-set runs inside the batch transaction, so it sees every earlier write of the batch.
 * Reads run between batches: they see durable state only.
 */
export class IndexStore {
  readonly #db: Database.Database;
  readonly #historyLimit: number;
  readonly #get: Database.Statement<[string], NameRow>;
  readonly #lastVersion: Database.Statement<[string], { v: number | null }>;
  readonly #upsert: Database.Statement<[string, string, string | null, number, number]>;
  readonly #del: Database.Statement<[string]>;
  readonly #hist: Database.Statement<[string, number, string | null, string | null, number]>;
  readonly #prune: Database.Statement<[string, number]>;
  readonly #history: Database.Statement<
    [string, number],
    { version: number; addr: string | null; meta: string | null; at: number }
  >;
  readonly #list: Database.Statement<[string, string, string, number, string, number], NameRow>;
  readonly #putTx: (name: string, addr: string, meta: string | null, c: Precondition) => PutResult;
  readonly #delTx: (name: string, c: Precondition) => DeleteResult;
  readonly #writer: GroupCommitWriter;

  constructor(path: string, opts: { historyLimit: number }) {
    this.#db = openDurableSqlite(path, SCHEMA);
    this.#historyLimit = opts.historyLimit;
    const db = this.#db;
    this.#get = db.prepare('SELECT name, addr, meta, version, updated_at FROM names WHERE name = ?');
    this.#lastVersion = db.prepare('SELECT MAX(version) AS v FROM history WHERE name = ?');
    this.#upsert = db.prepare(
      'INSERT INTO names (name, addr, meta, version, updated_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (name) DO UPDATE SET addr = excluded.addr, meta = excluded.meta, version = excluded.version, updated_at = excluded.updated_at',
    );
    this.#del = db.prepare('DELETE FROM names WHERE name = ?');
    this.#hist = db.prepare('INSERT INTO history (name, version, addr, meta, at) VALUES (?, ?, ?, ?, ?)');
    this.#prune = db.prepare('DELETE FROM history WHERE name = ? AND version <= ?');
    this.#history = db.prepare(
      'SELECT version, addr, meta, at FROM history WHERE name = ? ORDER BY version DESC LIMIT ?',
    );
    // The range bound keeps the index seek tight; substr() makes the prefix test exact.
    this.#list = db.prepare(
      'SELECT name, addr, meta, version, updated_at FROM names WHERE name > ? AND name >= ? AND name < ? ' +
        'AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?',
    );
    const next = (name: string): number => (this.#lastVersion.get(name)?.v ?? 0) + 1;
    this.#putTx = (name: string, addr: string, meta: string | null, c: Precondition): PutResult => {
      const cur = this.#get.get(name)?.version;
      if (!holds(cur, c)) return { kind: 'precondition_failed' };
      const version = next(name);
      const now = Date.now();
      this.#upsert.run(name, addr, meta, version, now);
      this.#hist.run(name, version, addr, meta, now);
      this.#prune.run(name, version - this.#historyLimit);
      return { kind: cur === undefined ? 'created' : 'replaced', version };
    };
    this.#delTx = (name: string, c: Precondition): DeleteResult => {
      const cur = this.#get.get(name)?.version;
      if (cur === undefined) return 'not_found';
      if (!holds(cur, c)) return 'precondition_failed';
      const version = next(name);
      this.#del.run(name);
      this.#hist.run(name, version, null, null, Date.now());
      this.#prune.run(name, version - this.#historyLimit);
      return 'deleted';
    };
    this.#writer = new GroupCommitWriter(db);
  }

  /** A consistent copy of the store in the new file `dest` (SQLite online backup; writes keep flowing). */
  snapshot(dest: string): Promise<void> {
    return snapshotSqlite(this.#db, dest);
  }

  isOpen(): boolean {
    return this.#db.open;
  }

  get(name: string): Binding | undefined {
    const r = this.#get.get(name);
    return r === undefined ? undefined : { ...r, meta: parseMeta(r.meta) };
  }

  /** Resolves once durable (or with `precondition_failed`, nothing written). */
  put(name: string, addr: string, meta: unknown, c: Precondition): Promise<PutResult> {
    const m = meta === undefined ? null : JSON.stringify(meta);
    return this.#writer.write(() => this.#putTx(name, addr, m, c), {
      bytes: name.length + addr.length + (m?.length ?? 0),
    });
  }

  /** Resolves once durable (or with `not_found` / `precondition_failed`, nothing written). */
  delete(name: string, c: Precondition): Promise<DeleteResult> {
    return this.#writer.write(() => this.#delTx(name, c), { bytes: name.length });
  }

  /** The last versions of a name, newest first (deletions have `addr: null`). */
  history(name: string, limit: number): HistoryEntry[] {
    return this.#history
      .all(name, limit)
      .map((r) => ({ version: r.version, addr: r.addr, meta: parseMeta(r.meta), at: r.at }));
  }

  list(
    prefix: string,
    limit: number,
    after: string | undefined,
  ): { names: Binding[]; last: string | undefined } {
    const rows = this.#list.all(after ?? '', prefix, `${prefix}\u{10FFFF}`, prefix.length, prefix, limit + 1);
    const more = rows.length > limit;
    const page = (more ? rows.slice(0, limit) : rows).map((r) => ({ ...r, meta: parseMeta(r.meta) }));
    return { names: page, last: more ? page[page.length - 1]!.name : undefined };
  }

  /** Commits the writes still queued, then closes the file. */
  close(): void {
    this.#writer.close();
    if (this.#db.open) this.#db.close();
  }
}
