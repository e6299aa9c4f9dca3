// Online backups of a program's SQLite store (runbook "Backups"): a consistent snapshot taken
// with SQLite's online backup API on the store's own connection while writes keep flowing, served
// on the admin listener as `GET /backup`, fetched by a client that verifies it, writes it atomically
// and records a manifest. Exported from `@ron/kernel/sqlite` (it loads the native addon).
import Database from 'better-sqlite3';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createBLAKE3 } from 'hash-wasm';

/** What a snapshot route says about the snapshot it serves (program-specific fields allowed). */
export type SnapshotMeta = Record<string, string | number | boolean | null>;

export interface SnapshotProgress {
  /** Pages copied so far and in all (SQLite's backup step counters). */
  done: number;
  total: number;
}

/**
 * Copies `db` into the new file `dest` with SQLite's online backup API, in steps of `pagesPerStep`
 * between which the event loop (and the store's own writes) run; a write made through this same
 * connection during the copy is carried into the snapshot, so the result is one consistent state.
 * The file is fsynced before the promise resolves.
 */
export async function snapshotSqlite(
  db: Database.Database,
  dest: string,
  onProgress?: (p: SnapshotProgress) => void,
  pagesPerStep = 1024,
): Promise<void> {
  await db.backup(dest, {
    progress({ totalPages, remainingPages }) {
      onProgress?.({ done: totalPages - remainingPages, total: totalPages });
      return pagesPerStep;
    },
  });
  // A self-contained file: rollback-journal mode, so opening the snapshot (even read-only) never
  // creates -wal / -shm companions next to it.
  const copy = new Database(dest);
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  fsyncPath(dest);
}

/** `PRAGMA integrity_check` on a closed SQLite file, read-only; returns the problems (empty = ok). */
export function sqliteIntegrity(path: string): string[] {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((s) => s !== 'ok');
    return problems;
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  } finally {
    db?.close();
  }
}

/** `b3:<hex>` BLAKE3 of a file, streamed. */
export async function b3File(path: string): Promise<string> {
  const h = await createBLAKE3();
  h.init();
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return `b3:${h.digest('hex')}`;
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `text` to `path` atomically: a temp file in the same directory, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, text: string | Buffer, mode = 0o640): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  fsyncPath(tmp);
  renameSync(tmp, path);
  fsyncPath(dirname(path));
}

/** A temp directory for snapshot files; removed by the caller. */
export function snapshotTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ron-snapshot-'));
}

/**
 * Downloads a snapshot from a program's `GET /backup` into `dest` (created exclusively, fsynced),
 * reporting bytes as they arrive. Returns the meta the server sent in `x-ron-backup-meta`.
 */
export async function fetchSnapshot(
  url: string,
  dest: string,
  onProgress?: (bytes: number, total: number | undefined) => void,
  headers: Record<string, string> = {},
): Promise<{ meta: SnapshotMeta; bytes: number }> {
  const res = await fetch(url, { headers });
  if (res.status !== 200 || res.body === null) {
    const text = await res.text().catch(() => '');
    throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  const total = Number(res.headers.get('content-length') ?? NaN);
  const metaHeader = res.headers.get('x-ron-backup-meta');
  const meta = metaHeader === null ? {} : (JSON.parse(metaHeader) as SnapshotMeta);
  const out = createWriteStream(dest, { flags: 'wx', mode: 0o640 });
  let bytes = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      onProgress?.(bytes, Number.isFinite(total) ? total : undefined);
    }
  } finally {
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
  if (Number.isFinite(total) && bytes !== total)
    throw new Error(`snapshot from ${url} was cut short: ${bytes} of ${total} bytes`);
  fsyncPath(dest);
  return { meta, bytes };
}

/** Size of a file in bytes. */
export function fileSize(path: string): number {
  return statSync(path).size;
}

/** Removes a file or directory if present. */
export function removeQuietly(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Thrown when a store file is held by a running program (its exclusive lock). */
export class StoreInUseError extends Error {
  constructor(readonly path: string) {
    super(`${path} is in use by a running program: stop it before restoring`);
    this.name = 'StoreInUseError';
  }
}

/**
 * Opens an existing store file only if no running program holds it (each store has one owner with
 * an exclusive lock), runs `read` on it and closes it. Returns undefined when the file is absent.
 */
export function readIdleStore<T>(path: string, read: (db: Database.Database) => T): T | undefined {
  try {
    statSync(path);
  } catch {
    return undefined;
  }
  const db = new Database(path, { timeout: 0, fileMustExist: true });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.exec('BEGIN IMMEDIATE; COMMIT');
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new StoreInUseError(path);
      throw err;
    }
    return read(db);
  } finally {
    db.close();
  }
}

/**
 * Puts the verified snapshot `src` in place of the store file `dest`: a copy next to it, fsynced,
 * the old WAL and shared-memory files removed (they belong to the old database), then one rename
 * and a directory fsync, so a crash leaves either the old store or the new one, never a mix.
 */
export function replaceStoreFile(src: string, dest: string): void {
  const tmp = `${dest}.restore-${process.pid}`;
  copyFileSync(src, tmp);
  fsyncPath(tmp);
  rmSync(`${dest}-wal`, { force: true });
  rmSync(`${dest}-shm`, { force: true });
  renameSync(tmp, dest);
  fsyncPath(dirname(dest));
}

/** Progress on a terminal (stderr), one line rewritten in place; silent when stderr is not a TTY. */
export class TtyProgress {
  readonly #tty = process.stderr.isTTY === true;
  #last = 0;

  update(label: string, done: number, total: number | undefined): void {
    if (!this.#tty) return;
    const now = Date.now();
    if (now - this.#last < 100 && (total === undefined || done < total)) return;
    this.#last = now;
    const pct = total !== undefined && total > 0 ? ` ${Math.floor((done / total) * 100)}%` : '';
    process.stderr.write(
      `\r\x1b[2K${label}: ${formatBytes(done)}${total !== undefined ? ` / ${formatBytes(total)}` : ''}${pct}`,
    );
  }

  done(): void {
    if (this.#tty) process.stderr.write('\r\x1b[2K');
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
