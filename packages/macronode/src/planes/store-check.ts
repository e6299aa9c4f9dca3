import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DoctorCheck } from './plane.js';

/**
 * `macronode doctor`'s check of a plane's SQLite store: it opens (created if missing, as the plane
 * would) and takes WAL mode. A store held by a running node answers SQLITE_BUSY: that is fine (one
 * owner per store). better-sqlite3 is loaded here only, so plane processes never load it for this.
 */
export async function sqliteStoreCheck(plane: string, file: string): Promise<DoctorCheck> {
  const name = `${plane} store`;
  try {
    const { default: Database } = await import('better-sqlite3');
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file, { timeout: 200 });
    try {
      db.pragma('journal_mode = WAL');
    } finally {
      db.close();
    }
    return { name, verdict: 'ok', detail: `${file} opens` };
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      return { name, verdict: 'ok', detail: `${file} is open in a running node (locked by its owner)` };
    return { name, verdict: 'fail', detail: `${file}: ${(err as Error).message}` };
  }
}
