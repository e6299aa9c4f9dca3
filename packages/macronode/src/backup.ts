// Node backups (docs/runbook.md § Backups): every plane that keeps a store serves a consistent
// snapshot on its admin listener (`GET /backup`); the node fetches each into one directory with a
// manifest, verifies each (SQLite integrity, and the registry's chain), and renames the directory
// into place only when all of them are good. `restore` (node stopped) verifies again before it
// replaces anything.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { StartupError, buildInfo } from '@ron/kernel';
import {
  StoreInUseError,
  b3File,
  fetchSnapshot,
  fsyncPath,
  readIdleStore,
  removeQuietly,
  replaceStoreFile,
  sqliteIntegrity,
  writeFileAtomic,
  type SnapshotMeta,
} from '@ron/kernel/backup';
import { verifyLogSnapshot, type SnapshotSigners } from '@ron/registry';
import { planeModule } from './planes/table.js';
import { restoreStorageSnapshot, verifyStorageSnapshot } from '@ron/storage/backup';

const EX_DATAERR = 65;
const EX_UNAVAILABLE = 69;

function readWatermark(path: string, sql: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).pluck().get() as number | null) ?? 0;
  } finally {
    db.close();
  }
}

/**
 * Planes whose snapshot is not a drop-in store file: how to put it in place (the storage plane's
 * snapshot carries its chunk bytes and becomes a whole directory, see @ron/storage/backup).
 */
const RESTORERS: Readonly<Record<string, (src: string, storeFile: string) => void>> = {
  storage: (src, storeFile) => restoreStorageSnapshot(src, dirname(storeFile)),
};

export interface PlaneBackup {
  file: string;
  bytes: number;
  b3: string;
  meta: SnapshotMeta;
  /** Registry only: the verified log, and the genesis signer set its signatures were audited against. */
  log?: { entries: number; head: number; chain_b3: string; audit?: SnapshotSigners };
  /** Storage only: what the snapshot holds, every chunk verified. */
  content?: { objects: number; chunks: number; bytes: number; corrupt_chunks: number };
}

export interface NodeBackupManifest {
  format: 'ron-node-backup/1';
  taken_at: string;
  macronode_version: string;
  planes: Record<string, PlaneBackup>;
}

export interface BackupSource {
  plane: string;
  /** The plane's admin base URL (its `GET /backup`). */
  adminUrl: string;
  /** Registry only: the genesis signer set every entry's signatures are audited against. */
  audit?: SnapshotSigners;
}

export type BackupProgress = (e: { plane: string; bytes: number; total: number | undefined }) => void;

async function verifyPlaneFile(
  plane: string,
  path: string,
  audit: SnapshotSigners | undefined,
): Promise<Pick<PlaneBackup, 'log' | 'content'>> {
  if (plane === 'storage') return { content: verifyStorageSnapshot(path) };
  const problems = sqliteIntegrity(path);
  if (problems.length > 0)
    throw new Error(`${plane}: SQLite integrity check failed: ${problems.slice(0, 3).join('; ')}`);
  if (plane !== 'registry') return {};
  const r = await verifyLogSnapshot(path, audit);
  return {
    log: {
      entries: r.entries,
      head: r.head,
      chain_b3: r.chain_b3,
      ...(audit !== undefined ? { audit } : {}),
    },
  };
}

/**
 * Fetches every source's snapshot into `out` (which must not exist): written under `out.partial`,
 * verified, then renamed, so `out` exists only complete. Returns the manifest.
 */
export async function backupNode(
  sources: readonly BackupSource[],
  out: string,
  onProgress?: BackupProgress,
): Promise<NodeBackupManifest> {
  const dir = resolve(out);
  if (existsSync(dir)) throw new StartupError(`${dir} already exists; backups are never overwritten`, 64);
  if (sources.length === 0)
    throw new StartupError('no running plane keeps a store to back up', EX_UNAVAILABLE);
  const partial = `${dir}.partial`;
  removeQuietly(partial);
  mkdirSync(partial, { recursive: true });
  const manifest: NodeBackupManifest = {
    format: 'ron-node-backup/1',
    taken_at: new Date().toISOString(),
    macronode_version: buildInfo().version,
    planes: {},
  };
  try {
    for (const s of sources) {
      const file = `${s.plane}.db`;
      const path = join(partial, file);
      const got = await fetchSnapshot(`${s.adminUrl.replace(/\/$/, '')}/backup`, path, (bytes, total) =>
        onProgress?.({ plane: s.plane, bytes, total }),
      );
      const checked = await verifyPlaneFile(s.plane, path, s.audit);
      manifest.planes[s.plane] = {
        file,
        bytes: got.bytes,
        b3: await b3File(path),
        meta: got.meta,
        ...checked,
      };
    }
    writeFileAtomic(join(partial, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(partial, dir);
    fsyncPath(resolve(dir, '..'));
  } catch (err) {
    removeQuietly(partial);
    if (err instanceof StartupError) throw err;
    throw new StartupError(`backup failed, nothing written: ${(err as Error).message}`, EX_UNAVAILABLE);
  }
  return manifest;
}

/**
 * Verifies a node backup directory: manifest, every file's checksum, integrity, the registry chain
 * and every registry signature — against `audit` (the target node's own signer key) when given,
 * else against the signer set the backup recorded — and every stored chunk against its hash.
 */
export async function verifyNodeBackup(from: string, audit?: SnapshotSigners): Promise<NodeBackupManifest> {
  const dir = resolve(from);
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(mpath))
    throw new StartupError(`${mpath} is missing: not a macronode backup (or an unfinished one)`, EX_DATAERR);
  let m: NodeBackupManifest;
  try {
    m = JSON.parse(readFileSync(mpath, 'utf8')) as NodeBackupManifest;
  } catch (err) {
    throw new StartupError(`${mpath} is not valid JSON: ${(err as Error).message}`, EX_DATAERR);
  }
  if (m.format !== 'ron-node-backup/1')
    throw new StartupError(`${mpath}: unknown format ${String(m.format)}`, EX_DATAERR);
  for (const [plane, p] of Object.entries(m.planes)) {
    const path = join(dir, p.file);
    if (!existsSync(path)) throw new StartupError(`${plane}: ${path} is missing`, EX_DATAERR);
    const sum = await b3File(path);
    if (sum !== p.b3)
      throw new StartupError(
        `${plane}: ${path} checksum ${sum} does not match the manifest's ${p.b3}: the file changed or is truncated`,
        EX_DATAERR,
      );
    let log: PlaneBackup['log'];
    try {
      ({ log } = await verifyPlaneFile(plane, path, audit ?? p.log?.audit));
    } catch (err) {
      throw new StartupError(`${plane}: ${(err as Error).message}`, EX_DATAERR);
    }
    if (log !== undefined && (log.head !== p.log?.head || log.chain_b3 !== p.log.chain_b3)) {
      throw new StartupError(
        `${plane}: verified head ${log.head} differs from the manifest's ${String(p.log?.head)}`,
        EX_DATAERR,
      );
    }
  }
  return m;
}

export interface NodeRestoreResult {
  manifest: NodeBackupManifest;
  restored: { plane: string; path: string }[];
}

/**
 * Restores a verified backup into `dataDir` (the node stopped: a plane store held by a running
 * process refuses with 69). Refuses a snapshot older than the data it would replace (by the
 * plane's store watermark) unless `force`.
 * Everything is checked before the first file is replaced.
 */
export async function restoreNode(
  from: string,
  dataDir: string,
  force: boolean,
  audit?: SnapshotSigners,
): Promise<NodeRestoreResult> {
  const dir = resolve(from);
  const m = await verifyNodeBackup(dir, audit);
  const plan: { plane: string; src: string; dest: string }[] = [];
  for (const [plane, p] of Object.entries(m.planes)) {
    const rel = planeModule(plane)?.store?.file;
    if (rel === undefined)
      throw new StartupError(
        `${plane}: this macronode does not know where that plane keeps its store`,
        EX_DATAERR,
      );
    const dest = join(resolve(dataDir), rel);
    // How old the data is, as one number that only grows with writes (the plane's store watermark).
    const mark = planeModule(plane)?.store?.watermark;
    if (mark === undefined)
      throw new StartupError(`${plane}: this macronode cannot judge that plane's snapshot age`, EX_DATAERR);
    const src = join(dir, p.file);
    const snapMark = readWatermark(src, mark.sql);
    let newer: string | undefined;
    try {
      newer = readIdleStore(dest, (db) => {
        const cur = (db.prepare(mark.sql).pluck().get() as number | null) ?? 0;
        return cur > snapMark ? `its ${mark.what} ${cur} is past the snapshot's ${snapMark}` : undefined;
      });
    } catch (err) {
      if (err instanceof StoreInUseError)
        throw new StartupError(`${err.message}: stop macronode first`, EX_UNAVAILABLE);
      newer = undefined; // an unreadable store is what a restore replaces
    }
    if (newer !== undefined && !force) {
      throw new StartupError(
        `refusing to restore ${plane}: ${dest} is newer than the snapshot (${newer}); pass --force to roll back`,
        EX_DATAERR,
      );
    }
    plan.push({ plane, src, dest });
  }
  for (const step of plan) {
    mkdirSync(resolve(step.dest, '..'), { recursive: true });
    (RESTORERS[step.plane] ?? replaceStoreFile)(step.src, step.dest);
  }
  return { manifest: m, restored: plan.map((s) => ({ plane: s.plane, path: s.dest })) };
}
