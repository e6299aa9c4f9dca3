// Backups of the storage plane (docs/runbook.md § Backups). The store is SQLite records plus
// append-only segment files, so a snapshot is ONE self-contained SQLite file: the records (SQLite's
// online backup, taken while uploads keep flowing) plus a `backup_chunk_data` table holding every
// chunk's bytes, each verified against its BLAKE3 hash as it is copied. One file means the node's
// backup pipeline (stream, checksum, manifest, integrity check) is the same as every other plane's.
// A restore checks every chunk again, rebuilds the segment files at the offsets the records name, and
// swaps the whole storage directory in with one rename.
// Exported as `@ron/storage/backup`: no server, no Fastify.
import Database from 'better-sqlite3';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fsyncPath, sqliteIntegrity } from '@ron/kernel/backup';
import { chunkHash } from './hash.js';

/** The table a snapshot adds to the store's schema: chunk hash → the chunk's bytes. */
export const CHUNK_DATA_TABLE = 'backup_chunk_data';

/** What a storage snapshot holds (reported in the backup's metadata and manifest). */
export interface StorageSnapshotFacts {
  objects: number;
  chunks: number;
  /** Bytes of chunk data in the snapshot. */
  bytes: number;
  /** Chunks whose stored bytes failed verification while copying (left out; their objects marked corrupt). */
  corrupt_chunks: number;
}

interface ChunkRow {
  hash: Buffer;
  segment: string;
  off: number;
  len: number;
}

/**
 * Adds the chunk bytes to `dest`, a fresh SQLite copy of the store's records: each chunk is read from
 * its segment under `segDir`, verified, and inserted; a chunk whose bytes do not match its hash is
 * left out and the objects holding it are marked corrupt in the copy (a backup never carries bad
 * bytes, and says so). The caller keeps the GC from deleting segment files until this returns.
 */
export async function addChunkData(
  dest: string,
  segDir: string,
  onProgress?: (copied: number, total: number) => void,
): Promise<StorageSnapshotFacts> {
  const db = new Database(dest);
  try {
    db.exec(`CREATE TABLE ${CHUNK_DATA_TABLE} (hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID`);
    const rows = db
      .prepare<[], ChunkRow>('SELECT hash, segment, off, len FROM chunks ORDER BY segment, off')
      .all();
    const total = rows.reduce((n, r) => n + r.len, 0);
    const ins = db.prepare<[Buffer, Buffer]>(`INSERT INTO ${CHUNK_DATA_TABLE} (hash, data) VALUES (?, ?)`);
    const markCorrupt = db.prepare<[Buffer]>(
      "UPDATE objects SET state = 'corrupt' WHERE addr IN (SELECT addr FROM object_chunks WHERE hash = ?)",
    );
    const facts: StorageSnapshotFacts = { objects: 0, chunks: 0, bytes: 0, corrupt_chunks: 0 };
    const insertBatch = db.transaction((batch: { hash: Buffer; data: Buffer | undefined }[]) => {
      for (const c of batch) {
        if (c.data === undefined) {
          markCorrupt.run(c.hash);
          facts.corrupt_chunks++;
        } else {
          ins.run(c.hash, c.data);
          facts.chunks++;
          facts.bytes += c.data.length;
        }
      }
    });
    let batch: { hash: Buffer; data: Buffer | undefined }[] = [];
    let batchBytes = 0;
    let copied = 0;
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    let openSeg = '';
    try {
      for (const r of rows) {
        if (r.segment !== openSeg) {
          await fh?.close();
          fh = await open(join(segDir, r.segment), 'r').catch(() => undefined);
          openSeg = r.segment;
        }
        const data = Buffer.allocUnsafe(r.len);
        const got = fh === undefined ? 0 : (await fh.read(data, 0, r.len, r.off)).bytesRead;
        const ok = got === r.len && chunkHash(data).equals(r.hash);
        batch.push({ hash: r.hash, data: ok ? data : undefined });
        batchBytes += r.len;
        copied += r.len;
        // Inserted in transactions of ~8 MiB: bounded memory, a few fsyncs in all.
        if (batchBytes >= 8 << 20) {
          insertBatch(batch);
          onProgress?.(copied, total);
          batch = [];
          batchBytes = 0;
        }
      }
    } finally {
      await fh?.close();
    }
    insertBatch(batch);
    onProgress?.(copied, total);
    facts.objects = db.prepare<[], number>('SELECT count(*) FROM objects').pluck().get() ?? 0;
    return facts;
  } finally {
    db.close();
    fsyncPath(dest);
  }
}

/**
 * Checks a storage snapshot without the store: SQLite integrity, every chunk's bytes against its
 * hash and length, every object's chunk list complete. A chunk with no bytes is accepted only when
 * every object that holds it is marked corrupt (what the snapshot recorded). Throws with the reason.
 */
export function verifyStorageSnapshot(path: string): StorageSnapshotFacts {
  const problems = sqliteIntegrity(path);
  if (problems.length > 0)
    throw new Error(`SQLite integrity check failed: ${problems.slice(0, 3).join('; ')}`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hasData = db
      .prepare<[string], number>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
      .pluck()
      .get(CHUNK_DATA_TABLE);
    if (!hasData) throw new Error(`not a storage snapshot: it has no ${CHUNK_DATA_TABLE} table`);
    const facts: StorageSnapshotFacts = { objects: 0, chunks: 0, bytes: 0, corrupt_chunks: 0 };
    const healthyHolders = db.prepare<[Buffer], number>(
      "SELECT count(*) FROM object_chunks oc JOIN objects o ON o.addr = oc.addr WHERE oc.hash = ? AND o.state = 'ok'",
    );
    const rows = db
      .prepare<[], { hash: Buffer; len: number; data: Buffer | null }>(
        `SELECT c.hash AS hash, c.len AS len, d.data AS data FROM chunks c LEFT JOIN ${CHUNK_DATA_TABLE} d ON d.hash = c.hash`,
      )
      .iterate();
    for (const r of rows) {
      const hex = r.hash.toString('hex');
      if (r.data === null) {
        if ((healthyHolders.pluck().get(r.hash) ?? 0) > 0)
          throw new Error(`chunk ${hex} has no data but an object marked ok holds it`);
        facts.corrupt_chunks++;
        continue;
      }
      if (r.data.length !== r.len)
        throw new Error(`chunk ${hex} holds ${r.data.length} bytes, its record says ${r.len}`);
      if (!chunkHash(r.data).equals(r.hash)) throw new Error(`chunk ${hex}: its bytes do not match its hash`);
      facts.chunks++;
      facts.bytes += r.len;
    }
    const dangling = db
      .prepare<[], string>(
        'SELECT oc.addr FROM object_chunks oc LEFT JOIN chunks c ON c.hash = oc.hash WHERE c.hash IS NULL LIMIT 1',
      )
      .pluck()
      .get();
    if (dangling !== undefined)
      throw new Error(`object ${dangling} names a chunk the snapshot does not hold`);
    facts.objects = db.prepare<[], number>('SELECT count(*) FROM objects').pluck().get() ?? 0;
    return facts;
  } finally {
    db.close();
  }
}

/**
 * Puts a verified storage snapshot in place of the storage directory `dir` (store.db, segments/):
 * the segment files are rebuilt next to it (each chunk written at the offset its record names),
 * the records copied without the chunk-data table, everything fsynced, then the old directory is
 * renamed aside, the new one renamed in, and the old one removed. The storage program must be
 * stopped (the caller checks the store is idle first).
 */
export function restoreStorageSnapshot(src: string, dir: string): void {
  const target = resolve(dir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const staging = `${target}.restore-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const segDir = join(staging, 'segments');
  mkdirSync(segDir, { recursive: true });
  const snap = new Database(src, { readonly: true, fileMustExist: true });
  try {
    const rows = snap
      .prepare<[], { segment: string; off: number; data: Buffer }>(
        `SELECT c.segment AS segment, c.off AS off, d.data AS data FROM chunks c JOIN ${CHUNK_DATA_TABLE} d ON d.hash = c.hash ORDER BY c.segment, c.off`,
      )
      .iterate();
    let fd: number | undefined;
    let cur = '';
    const closeSeg = (): void => {
      if (fd === undefined) return;
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
    };
    for (const r of rows) {
      if (r.segment !== cur) {
        closeSeg();
        // Segment ids are UUIDs written by the store; refuse anything that could leave the directory.
        if (!/^[0-9a-f-]{36}$/.test(r.segment))
          throw new Error(`bad segment id ${JSON.stringify(r.segment)}`);
        fd = openSync(join(segDir, r.segment), 'w');
        cur = r.segment;
      }
      writeSync(fd!, r.data, 0, r.data.length, r.off);
    }
    closeSeg();
    // Segments whose every chunk was lost to corruption still need a file (the records name them).
    for (const id of snap.prepare<[], string>('SELECT id FROM segments').pluck().all()) {
      if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`bad segment id ${JSON.stringify(id)}`);
      if (!existsSync(join(segDir, id))) closeSync(openSync(join(segDir, id), 'w'));
    }
    fsyncPath(segDir);
    // The records without the chunk bytes: VACUUM INTO writes a compact copy, then the table goes.
    const storeDb = join(staging, 'store.db');
    snap.prepare('VACUUM INTO ?').run(storeDb);
  } finally {
    snap.close();
  }
  const rec = new Database(join(staging, 'store.db'));
  try {
    rec.exec(`DROP TABLE ${CHUNK_DATA_TABLE}; VACUUM;`);
    rec.pragma('journal_mode = WAL');
  } finally {
    rec.close();
  }
  fsyncPath(join(staging, 'store.db'));
  fsyncPath(staging);
  const old = `${target}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(target)) renameSync(target, old);
  renameSync(staging, target);
  fsyncPath(parent);
  rmSync(old, { recursive: true, force: true });
}
