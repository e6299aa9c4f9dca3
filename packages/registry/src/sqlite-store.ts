import type Database from 'better-sqlite3';
import { openDurableSqlite } from '@ron/kernel/sqlite';
import { snapshotSqlite, type SnapshotProgress } from '@ron/kernel/backup';
import { canonicalJson } from './canonical.js';
import { StoreConflictError } from './errors.js';
import type { LogEntry } from './log-entry.js';
import type { LogStore } from './store.js';

// Append-only in the schema: triggers refuse UPDATE and DELETE; the version is the primary key.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_log (
  version INTEGER PRIMARY KEY NOT NULL CHECK (version >= 1),
  op      TEXT NOT NULL,
  entry   TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS registry_log_no_update BEFORE UPDATE ON registry_log
BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS registry_log_no_delete BEFORE DELETE ON registry_log
BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: DELETE refused'); END;
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
INSERT OR IGNORE INTO registry_meta (key, value) VALUES ('schema', '1');
`;

interface Row {
  entry: string;
}

/**
 * SQLite backend: WAL with synchronous=FULL, so append() returns only after the entry is durable.
 * Single writer: the insert checks version = max + 1 inside one transaction.
 */
export class SqliteStore implements LogStore {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[number, string, string]>;
  readonly #max: Database.Statement<[], { v: number | null }>;
  readonly #range: Database.Statement<[number, number], Row>;
  readonly #get: Database.Statement<[number], Row>;
  readonly #last: Database.Statement<[], Row>;
  readonly #appendTx: (e: LogEntry) => void;

  constructor(path: string) {
    this.location = path;
    this.#db = openDurableSqlite(path, SCHEMA);
    this.#insert = this.#db.prepare('INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)');
    this.#max = this.#db.prepare('SELECT max(version) AS v FROM registry_log');
    this.#range = this.#db.prepare('SELECT entry FROM registry_log WHERE version > ? ORDER BY version LIMIT ?');
    this.#get = this.#db.prepare('SELECT entry FROM registry_log WHERE version = ?');
    this.#last = this.#db.prepare('SELECT entry FROM registry_log ORDER BY version DESC LIMIT 1');
    this.#appendTx = this.#db.transaction((e: LogEntry) => {
      const want = (this.#max.get()?.v ?? 0) + 1;
      if (e.version !== want) throw new StoreConflictError(want, e.version);
      this.#insert.run(e.version, e.op, canonicalJson(e));
    });
  }

  append(entry: LogEntry): Promise<void> {
    try {
      this.#appendTx(entry);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  range(after: number, limit: number): Promise<LogEntry[]> {
    return Promise.resolve(this.#range.all(after, Math.max(0, limit)).map((r) => JSON.parse(r.entry) as LogEntry));
  }

  get(version: number): Promise<LogEntry | undefined> {
    const r = this.#get.get(version);
    return Promise.resolve(r === undefined ? undefined : (JSON.parse(r.entry) as LogEntry));
  }

  last(): Promise<LogEntry | undefined> {
    const r = this.#last.get();
    return Promise.resolve(r === undefined ? undefined : (JSON.parse(r.entry) as LogEntry));
  }

  floor(): number {
    return 1;
  }

  /**
   * A consistent copy of the whole store (log and proposals) in the new file `dest`, taken with
   * SQLite's online backup API on this connection: appends keep flowing and land in the copy or
   * after it, never half in it.
   */
  snapshot(dest: string, onProgress?: (p: SnapshotProgress) => void): Promise<void> {
    return snapshotSqlite(this.#db, dest, onProgress);
  }

  isOpen(): boolean {
    return this.#db.open;
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
