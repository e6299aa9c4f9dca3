import type Database from 'better-sqlite3';
import { openDurableSqlite } from '@ron/kernel/sqlite';
import { snapshotSqlite } from '@ron/kernel/backup';
import { conditionHolds, type DeleteResult, type KvCondition, type KvEntry, type KvMeta, type KvStore, type ListPage, type PutResult } from './kv-store.js';

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
  readonly #list: Database.Statement<[string, string, string, string, number, string, number], { key: string }>;
  readonly #putTx: (b: string, k: string, v: Buffer, e: string, c: KvCondition) => PutResult;
  readonly #delTx: (b: string, k: string, c: KvCondition) => DeleteResult;

  constructor(path: string) {
    this.#db = openDurableSqlite(path, SCHEMA);
    // Raw rows (arrays) on the hot read: better-sqlite3 skips building a keyed object per row.
    this.#get = this.#db.prepare<[string, string], [Buffer, string]>('SELECT value, etag FROM kv WHERE bucket = ? AND key = ?').raw(true);
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
    this.#putTx = this.#db.transaction((b: string, k: string, v: Buffer, e: string, c: KvCondition): PutResult => {
      const cur = this.#etag.get(b, k)?.etag;
      if (!conditionHolds(cur, c)) return 'precondition_failed';
      this.#upsert.run(b, k, v, e, Date.now());
      return cur === undefined ? 'created' : 'replaced';
    });
    this.#delTx = this.#db.transaction((b: string, k: string, c: KvCondition): DeleteResult => {
      const cur = this.#etag.get(b, k)?.etag;
      if (cur === undefined) return 'not_found';
      if (!conditionHolds(cur, c)) return 'precondition_failed';
      this.#del.run(b, k);
      return 'deleted';
    });
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

  put(bucket: string, key: string, value: Buffer, etag: string, cond: KvCondition): PutResult {
    return this.#putTx(bucket, key, value, etag, cond);
  }

  delete(bucket: string, key: string, cond: KvCondition): DeleteResult {
    return this.#delTx(bucket, key, cond);
  }

  list(bucket: string, prefix: string, limit: number, after: string | undefined): ListPage {
    const rows = this.#list.all(bucket, after ?? '', prefix, `${prefix}\u{10FFFF}`, [...prefix].length, prefix, limit + 1);
    const more = rows.length > limit;
    const keys = (more ? rows.slice(0, limit) : rows).map((r) => r.key);
    return { keys, last: more ? keys[keys.length - 1] : undefined };
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
