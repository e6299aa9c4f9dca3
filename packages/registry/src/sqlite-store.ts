import type Database from 'better-sqlite3';
import { GroupCommitWriter, openDurableSqlite } from '@ron/kernel/sqlite';
import { snapshotSqlite, type SnapshotProgress } from '@ron/kernel/backup';
import { canonicalJson } from './canonical.js';
import { ChainError, StoreConflictError } from './errors.js';
import type { LogEntry } from './log-entry.js';
import type { LogStore, ProposalRecord, StoredEntry } from './store.js';

// Append-only in the schema (SPEC §2.5), not only in code:
// - UPDATE and DELETE are refused by triggers;
// - every INSERT must carry version = head + 1. The BEFORE INSERT trigger runs before conflict
//   resolution, so `REPLACE INTO`, `INSERT OR REPLACE` and upserts (which would otherwise delete the
//   old row without firing the delete trigger) are refused, and so is a gap or an auto-assigned rowid.
// `CREATE … IF NOT EXISTS` doubles as the migration: a database made before the insert trigger
// existed gets it on the next open (schema 2).
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
CREATE TRIGGER IF NOT EXISTS registry_log_append_only BEFORE INSERT ON registry_log
WHEN NEW.version IS NOT (SELECT coalesce(max(version), 0) + 1 FROM registry_log)
BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: an insert must carry version = head + 1 (no replace, no gap)'); END;
CREATE TABLE IF NOT EXISTS registry_proposals (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
INSERT OR IGNORE INTO registry_meta (key, value) VALUES ('schema', '2');
UPDATE registry_meta SET value = '2' WHERE key = 'schema' AND value = '1';
`;

interface Row {
  version: number;
  entry: string;
}

/**
 * A stored row back as an entry. A row that does not decode, or whose version column disagrees
 * with its entry (a renumbered row), is corruption: ChainError naming the row's version (exit 65).
 */
function decode(r: Row): LogEntry {
  let e: unknown;
  try {
    e = JSON.parse(r.entry);
  } catch {
    throw new ChainError(r.version, 'the stored entry is not valid JSON');
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e))
    throw new ChainError(r.version, 'the stored entry is not a JSON object');
  const v = (e as { version?: unknown }).version;
  if (v !== r.version) {
    throw new ChainError(
      r.version,
      `the row's version column says ${r.version} but its entry says ${JSON.stringify(v) ?? 'nothing'} (a renumbered row)`,
    );
  }
  return e as LogEntry;
}

/** Runs a synchronous statement as the interface's promise (a throw becomes a rejection). */
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * SQLite backend: WAL with synchronous=FULL, so append() resolves only after the entry is durable.
 * Every write (appends, proposal records) goes through the kernel's group-commit writer: the writes
 * submitted in one event-loop turn share one transaction and one fsync, each in its own savepoint,
 * and each promise settles in submission order once that COMMIT returned. Appends are pipelined:
 * the registry hands over each sealed entry without waiting for the previous COMMIT; the insert
 * checks version = max + 1 inside the batch (which sees the earlier appends of the same batch), so
 * an append sealed on top of a failed one fails too. Reads run between batches: durable state only.
 */
export class SqliteStore implements LogStore {
  readonly kind = 'sqlite' as const;
  readonly pipelined = true;
  readonly location: string;
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[number, string, string]>;
  readonly #max: Database.Statement<[], { v: number | null }>;
  readonly #range: Database.Statement<[number, number], Row>;
  readonly #get: Database.Statement<[number], Row>;
  readonly #last: Database.Statement<[], Row>;
  readonly #writer: GroupCommitWriter;
  readonly #putProposal: Database.Statement<[string, string]>;
  readonly #getProposal: Database.Statement<[string], { record: string }>;
  readonly #listProposals: Database.Statement<[], { record: string }>;
  readonly #delProposal: Database.Statement<[string]>;

  constructor(path: string) {
    this.location = path;
    this.#db = openDurableSqlite(path, SCHEMA);
    this.#insert = this.#db.prepare('INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)');
    this.#max = this.#db.prepare('SELECT max(version) AS v FROM registry_log');
    this.#range = this.#db.prepare(
      'SELECT version, entry FROM registry_log WHERE version > ? ORDER BY version LIMIT ?',
    );
    this.#get = this.#db.prepare('SELECT version, entry FROM registry_log WHERE version = ?');
    this.#last = this.#db.prepare('SELECT version, entry FROM registry_log ORDER BY version DESC LIMIT 1');
    // Proposals are mutable records (approvals accrue), kept apart from the append-only log.
    this.#putProposal = this.#db.prepare(
      'INSERT INTO registry_proposals (id, record) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record',
    );
    this.#getProposal = this.#db.prepare('SELECT record FROM registry_proposals WHERE id = ?');
    this.#listProposals = this.#db.prepare('SELECT record FROM registry_proposals ORDER BY id');
    this.#delProposal = this.#db.prepare('DELETE FROM registry_proposals WHERE id = ?');
    this.#writer = new GroupCommitWriter(this.#db);
  }

  append(entry: LogEntry, text?: string): Promise<void> {
    const json = text ?? canonicalJson(entry);
    return this.#writer.write(
      () => {
        const want = (this.#max.get()?.v ?? 0) + 1;
        if (entry.version !== want) throw new StoreConflictError(want, entry.version);
        this.#insert.run(entry.version, entry.op, json);
      },
      { bytes: json.length },
    );
  }

  range(after: number, limit: number): Promise<LogEntry[]> {
    return Promise.resolve(this.#range.all(after, Math.max(0, limit)).map(decode));
  }

  rangeStored(after: number, limit: number): Promise<StoredEntry[]> {
    return attempt(() =>
      this.#range.all(after, Math.max(0, limit)).map((r) => ({ entry: decode(r), text: r.entry })),
    );
  }

  get(version: number): Promise<LogEntry | undefined> {
    const r = this.#get.get(version);
    return Promise.resolve(r === undefined ? undefined : decode(r));
  }

  last(): Promise<LogEntry | undefined> {
    const r = this.#last.get();
    return Promise.resolve(r === undefined ? undefined : decode(r));
  }

  putProposal(p: ProposalRecord): Promise<void> {
    const json = JSON.stringify(p);
    return this.#writer.write(
      () => {
        this.#putProposal.run(p.id, json);
      },
      { bytes: json.length },
    );
  }

  getProposal(id: string): Promise<ProposalRecord | undefined> {
    return attempt(() => {
      const r = this.#getProposal.get(id);
      return r === undefined ? undefined : (JSON.parse(r.record) as ProposalRecord);
    });
  }

  listProposals(): Promise<ProposalRecord[]> {
    return attempt(() => this.#listProposals.all().map((r) => JSON.parse(r.record) as ProposalRecord));
  }

  deleteProposals(ids: readonly string[]): Promise<void> {
    return this.#writer.write(() => {
      for (const id of ids) this.#delProposal.run(id);
    });
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

  /** Commits the writes still queued, then closes the file. */
  close(): Promise<void> {
    this.#writer.close();
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
