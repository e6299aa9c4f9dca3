import type Database from 'better-sqlite3';
import { GroupCommitWriter, openDurableSqlite } from '@ron/kernel/sqlite';
import { snapshotSqlite } from '@ron/kernel/backup';
import {
  conditionHolds,
  type DeleteResult,
  type KvCondition,
  type KvEntry,
  type KvMeta,
  type KvStore,
  type ListPage,
  type PutResult,
} from './kv-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  bucket TEXT NOT NULL,
  key    TEXT NOT NULL,
  value  BLOB NOT NULL,
  etag   TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
`;

/**
 * SQLite engine: WAL with synchronous=FULL, so a write is acknowledged only after it is durable.
 * Writes go through the kernel's group-commit writer: the PUTs and DELETEs that arrive in one
 * event-loop turn share one transaction and one fsync, and each promise settles only after that
 * COMMIT returned. The compare-and-set check runs inside the batch transaction, so it sees every
 * earlier write of the same batch: CAS stays exact however many writes race. Reads run between
 * batches (a batch is one synchronous call), so they only ever see committed, durable state.
 * Prepared statements live in private fields and are built once at open.
 */
export class SqliteStore implements KvStore {
  readonly engine = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string, string], [Buffer, string]>;
  readonly #head: Database.Statement<[string, string], { etag: string; size: number }>;
  readonly #etag: Database.Statement<[string, string], { etag: string }>;
  readonly #upsert: Database.Statement<[string, string, Buffer, string, number]>;
  readonly #del: Database.Statement<[string, string]>;
  readonly #list: Database.Statement<
    [string, string, string, string, number, string, number],
    { key: string }
  >;
  readonly #writer: GroupCommitWriter;

  constructor(path: string) {
    this.#db = openDurableSqlite(path, SCHEMA);
    // Raw rows (arrays) on the hot read: better-sqlite3 skips building a keyed object per row.
    this.#get = this.#db
      .prepare<[string, string], [Buffer, string]>('SELECT value, etag FROM kv WHERE bucket = ? AND key = ?')
      .raw(true);
    this.#head = this.#db.prepare('SELECT etag, length(value) AS size FROM kv WHERE bucket = ? AND key = ?');
    this.#etag = this.#db.prepare('SELECT etag FROM kv WHERE bucket = ? AND key = ?');
    this.#upsert = this.#db.prepare(
      'INSERT INTO kv (bucket, key, value, etag, updated_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value, etag = excluded.etag, updated_at = excluded.updated_at',
    );
    this.#del = this.#db.prepare('DELETE FROM kv WHERE bucket = ? AND key = ?');
    // The range bound keeps the index seek tight; substr() makes the prefix test exact.
    this.#list = this.#db.prepare(
      'SELECT key FROM kv WHERE bucket = ? AND key > ? AND key >= ? AND key < ? ' +
        'AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?',
    );
    this.#writer = new GroupCommitWriter(this.#db);
  }

  /** A consistent copy of the store in the new file `dest` (SQLite online backup; writes keep flowing). */
  snapshot(dest: string): Promise<void> {
    return snapshotSqlite(this.#db, dest);
  }

  isOpen(): boolean {
    return this.#db.open;
  }

  get(bucket: string, key: string): KvEntry | undefined {
    const row = this.#get.get(bucket, key);
    return row === undefined ? undefined : { value: row[0], etag: row[1] };
  }

  head(bucket: string, key: string): KvMeta | undefined {
    return this.#head.get(bucket, key);
  }

  put(bucket: string, key: string, value: Buffer, etag: string, cond: KvCondition): Promise<PutResult> {
    return this.#writer.write(
      (): PutResult => {
        const cur = this.#etag.get(bucket, key)?.etag;
        if (!conditionHolds(cur, cond)) return 'precondition_failed';
        this.#upsert.run(bucket, key, value, etag, Date.now());
        return cur === undefined ? 'created' : 'replaced';
      },
      { bytes: value.length + key.length },
    );
  }

  delete(bucket: string, key: string, cond: KvCondition): Promise<DeleteResult> {
    return this.#writer.write((): DeleteResult => {
      const cur = this.#etag.get(bucket, key)?.etag;
      if (cur === undefined) return 'not_found';
      if (!conditionHolds(cur, cond)) return 'precondition_failed';
      this.#del.run(bucket, key);
      return 'deleted';
    });
  }

  list(bucket: string, prefix: string, limit: number, after: string | undefined): ListPage {
    const rows = this.#list.all(
      bucket,
      after ?? '',
      prefix,
      `${prefix}\u{10FFFF}`,
      [...prefix].length,
      prefix,
      limit + 1,
    );
    const more = rows.length > limit;
    const keys = (more ? rows.slice(0, limit) : rows).map((r) => r.key);
    return { keys, last: more ? keys[keys.length - 1] : undefined };
  }

  /** Commits the writes still queued, then closes the file. */
  close(): void {
    this.#writer.close();
    if (this.#db.open) this.#db.close();
  }
}
