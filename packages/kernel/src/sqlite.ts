import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type { Database } from 'better-sqlite3';

/**
 * Opens (creating if needed) a SQLite file for durable writes and applies `schema`: WAL with
 * synchronous=FULL, so a committed transaction is on disk before the call returns — the rule every
 * store here follows (a write is acknowledged only once durable). A busy timeout covers a second
 * process holding the write lock briefly. Exported from `@ron/kernel/sqlite` so programs that never
 * touch SQLite do not load the native addon.
 *
 * @example
 * const db = openDurableSqlite('./_data/kv.db', 'CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB)');
 */
export function openDurableSqlite(path: string, schema: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
