// `svc-registry backup` and `svc-registry restore` (docs/runbook.md § Backups).
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { StartupError, buildInfo } from '@ron/kernel';
import {
  StoreInUseError,
  TtyProgress,
  b3File,
  fetchSnapshot,
  formatBytes,
  fsyncPath,
  readIdleStore,
  removeQuietly,
  replaceStoreFile,
  sqliteIntegrity,
  writeFileAtomic,
} from '@ron/kernel/backup';
import { ChainError } from './errors.js';
import { verifyLogSnapshot, type LogSnapshotReport, type SnapshotSigners } from './snapshot.js';
import { loadRegistryConfig } from './config.js';

/** Exit codes of SPEC §1.6 these commands use. */
const EX_DATAERR = 65;
const EX_UNAVAILABLE = 69;

export interface RegistryBackupManifest extends LogSnapshotReport {
  format: 'ron-registry-backup/1';
  taken_at: string;
  program: 'svc-registry';
  program_version: string;
  registry_id: string | null;
  source: string;
  file: string;
  bytes: number;
  b3: string;
}

export const manifestPathOf = (file: string): string => `${file}.manifest.json`;

/**
 * Everything `restore` checks before it touches anything: the manifest, the checksum, SQLite's
 * integrity check and the registry's own verification (contiguous versions, parseable entries,
 * the hash chain), and that the verified head is the one the manifest recorded.
 * Throws StartupError(65) with the reason.
 */
export async function verifyRegistryBackup(
  file: string,
  signers?: SnapshotSigners,
): Promise<RegistryBackupManifest> {
  const mpath = manifestPathOf(file);
  if (!existsSync(file)) throw new StartupError(`${file} does not exist`, EX_DATAERR);
  if (!existsSync(mpath))
    throw new StartupError(`${mpath} is missing: a backup is the file and its manifest`, EX_DATAERR);
  let m: RegistryBackupManifest;
  try {
    m = JSON.parse(readFileSync(mpath, 'utf8')) as RegistryBackupManifest;
  } catch (err) {
    throw new StartupError(`${mpath} is not valid JSON: ${(err as Error).message}`, EX_DATAERR);
  }
  if (m.format !== 'ron-registry-backup/1')
    throw new StartupError(`${mpath}: unknown format ${String(m.format)}`, EX_DATAERR);
  const sum = await b3File(file);
  if (sum !== m.b3)
    throw new StartupError(
      `${file}: checksum ${sum} does not match the manifest's ${m.b3}: the file changed or is truncated`,
      EX_DATAERR,
    );
  const problems = sqliteIntegrity(file);
  if (problems.length > 0)
    throw new StartupError(
      `${file} fails SQLite's integrity check: ${problems.slice(0, 3).join('; ')}`,
      EX_DATAERR,
    );
  let r: LogSnapshotReport;
  try {
    r = await verifyLogSnapshot(file, signers);
  } catch (err) {
    if (err instanceof ChainError) throw new StartupError(`${file}: ${err.message}`, EX_DATAERR);
    throw err;
  }
  if (r.head !== m.head || r.chain_b3 !== m.chain_b3) {
    throw new StartupError(
      `${file}: verified head ${r.head} (${r.chain_b3}) differs from the manifest's ${m.head} (${m.chain_b3})`,
      EX_DATAERR,
    );
  }
  return m;
}

/** Takes a backup from a running registry's admin listener into `out` (+ `out.manifest.json`). */
export async function backupRegistry(adminUrl: string, out: string): Promise<RegistryBackupManifest> {
  const file = resolve(out);
  if (existsSync(file))
    throw new StartupError(`${file} already exists; choose a new name (backups are never overwritten)`, 64);
  const partial = `${file}.partial`;
  removeQuietly(partial);
  const progress = new TtyProgress();
  let fetched: Awaited<ReturnType<typeof fetchSnapshot>>;
  try {
    fetched = await fetchSnapshot(`${adminUrl.replace(/\/$/, '')}/backup`, partial, (b, t) =>
      progress.update('backup', b, t),
    );
  } catch (err) {
    removeQuietly(partial);
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED')
      throw new StartupError(
        `nothing answers at ${adminUrl}: is svc-registry running? (--admin URL names its admin listener)`,
        EX_UNAVAILABLE,
      );
    throw new StartupError(`backup failed: ${(err as Error).message}`, EX_UNAVAILABLE);
  } finally {
    progress.done();
  }
  let report: LogSnapshotReport;
  try {
    const problems = sqliteIntegrity(partial);
    if (problems.length > 0)
      throw new Error(`the snapshot fails SQLite's integrity check: ${problems.join('; ')}`);
    report = await verifyLogSnapshot(partial);
  } catch (err) {
    removeQuietly(partial);
    throw new StartupError(
      `the snapshot did not verify, nothing written: ${(err as Error).message}`,
      EX_DATAERR,
    );
  }
  const manifest: RegistryBackupManifest = {
    format: 'ron-registry-backup/1',
    taken_at: new Date().toISOString(),
    program: 'svc-registry',
    program_version: buildInfo().version,
    registry_id: typeof fetched.meta.registry_id === 'string' ? fetched.meta.registry_id : null,
    source: adminUrl,
    file: basename(file),
    bytes: fetched.bytes,
    b3: await b3File(partial),
    ...report,
  };
  fsyncPath(partial);
  renameSync(partial, file);
  writeFileAtomic(manifestPathOf(file), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export interface RestoreResult {
  manifest: RegistryBackupManifest;
  replacedHead: number | null;
}

/**
 * Restores `from` over the store file `db` (the registry stopped). Verifies first; refuses a
 * snapshot whose head is older than the store it would replace unless `force`.
 */
export async function restoreRegistry(
  from: string,
  db: string,
  force: boolean,
  signers?: SnapshotSigners,
): Promise<RestoreResult> {
  const file = resolve(from);
  const target = resolve(db);
  const manifest = await verifyRegistryBackup(file, signers);
  let current: { head: number } | undefined;
  try {
    current = readIdleStore(target, (d) => {
      const row = d.prepare('SELECT max(version) AS v FROM registry_log').get() as
        { v: number | null } | undefined;
      return { head: row?.v ?? 0 };
    });
  } catch (err) {
    if (err instanceof StoreInUseError)
      throw new StartupError(`${err.message} (svc-registry or macronode)`, EX_UNAVAILABLE);
    // An unreadable current store is what restores are for: replace it.
    current = undefined;
  }
  if (current !== undefined && current.head > manifest.head && !force) {
    throw new StartupError(
      `refusing to restore: the snapshot's head ${manifest.head} is older than the store's head ${current.head} (${target}); pass --force to roll back`,
      EX_DATAERR,
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  replaceStoreFile(file, target);
  return { manifest, replacedHead: current?.head ?? null };
}

/** Adds `backup` and `restore` to the svc-registry command line. */
export function addBackupCommands(program: Command, runMain: (main: () => Promise<void>) => void): void {
  program
    .command('backup')
    .description('take a consistent online backup from a running svc-registry (writes keep flowing)')
    .requiredOption('--out <file>', 'snapshot file to create; its manifest goes to <file>.manifest.json')
    .option('--admin <url>', 'the registry admin listener', 'http://127.0.0.1:9909')
    .option('--json', 'print the manifest as JSON')
    .action((o: { out: string; admin: string; json?: boolean }) =>
      runMain(async () => {
        const m = await backupRegistry(o.admin, o.out);
        process.stdout.write(
          o.json === true
            ? `${JSON.stringify(m)}\n`
            : `backup ok: ${resolve(o.out)} (${formatBytes(m.bytes)}, ${m.entries} entries verified, head ${m.head}, chain ${m.chain_b3})\n`,
        );
      }),
    );
  program
    .command('restore')
    .description('verify a backup, then put it in place of the store (svc-registry must be stopped)')
    .requiredOption('--from <file>', 'snapshot file written by `svc-registry backup`')
    .requiredOption('--db <path>', 'the store file to replace (REGISTRY_DB)')
    .option('--force', 'restore even when the snapshot is older than the store it replaces')
    .option(
      '-c, --config <path>',
      'the registry config (env: REGISTRY_CONFIG); its signers audit every signature',
    )
    .option(
      '--allow-signer <id>',
      'allow-listed signer id; repeatable or comma-separated (env: SIGNER_ALLOWLIST)',
      (v: string, prev: string[] | undefined) => [
        ...(prev ?? []),
        ...v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ],
    )
    .option('--sig-threshold <n>', 'signatures a write needs (env: SIG_THRESHOLD)')
    .action(
      (o: {
        from: string;
        db: string;
        force?: boolean;
        config?: string;
        allowSigner?: string[];
        sigThreshold?: string;
      }) =>
        runMain(async () => {
          // With signers configured (flags, env or config file, as `run` reads them) every entry's
          // signatures are audited too; without, the chain and integrity checks still run.
          let signers: SnapshotSigners | undefined;
          try {
            const c = loadRegistryConfig({
              flags: { config: o.config, allowSigner: o.allowSigner, sigThreshold: o.sigThreshold },
            }).config;
            if (c['governance.signers'].length > 0)
              signers = {
                registryId: c.registry_id,
                signers: c['governance.signers'],
                threshold: c['governance.threshold'],
              };
          } catch (err) {
            // No signers anywhere is fine (chain and integrity only); a named config that is wrong is not.
            if (o.config !== undefined || o.allowSigner !== undefined) throw err;
          }
          const r = await restoreRegistry(o.from, o.db, o.force === true, signers);
          process.stdout.write(
            `restore ok: ${resolve(o.db)} now holds head ${r.manifest.head} (${r.manifest.entries} entries verified${signers !== undefined ? ', every signature audited' : ''}; replaced ${r.replacedHead === null ? 'nothing' : `head ${r.replacedHead}`})\n`,
          );
        }),
    );
}
