// Verifying a registry snapshot file (backup / restore, docs/runbook.md § Backups) without opening
// it as a live store: rows in version order, each parsed, its version column equal to the entry's,
// contiguous from 1, and the hash chain intact.
import Database from 'better-sqlite3';
import { EntryAuditor } from './audit-check.js';
import { ChainVerifier, initChain } from './chain.js';
import { initialSignerSet } from './governance/signer-set.js';
import { ChainError } from './errors.js';
import type { LogEntry } from './log-entry.js';
import { ZERO_B3 } from './log-entry.js';

export interface LogSnapshotReport {
  entries: number;
  /** Head version of the snapshot (0 for an empty log). */
  head: number;
  /** entry_b3 of the head entry (`b3:0` for an empty log). */
  chain_b3: string;
  /** True when every entry's signatures were checked against the signer set in force at its version. */
  signatures_verified: boolean;
}

/** The genesis signer set to audit signatures against (the registry's configured allow-list). */
export interface SnapshotSigners {
  registryId: string;
  signers: readonly string[];
  threshold: number;
}

/**
 * Reads every entry of a registry SQLite file (read-only) and verifies the chain and, given the
 * genesis signer set, every entry's signatures (the background audit's check, rotations followed).
 * Throws ChainError naming the first bad version.
 */
export async function verifyLogSnapshot(path: string, audit?: SnapshotSigners): Promise<LogSnapshotReport> {
  await initChain();
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'registry_log'")
      .get();
    if (hasTable === undefined)
      throw new ChainError(1, 'the file has no registry_log table: not a registry store');
    const verifier = new ChainVerifier();
    const auditor =
      audit === undefined
        ? undefined
        : new EntryAuditor(audit.registryId, initialSignerSet(audit.signers, audit.threshold));
    let entries = 0;
    for (const row of db
      .prepare('SELECT version, entry FROM registry_log ORDER BY version')
      .iterate() as IterableIterator<{
      version: number;
      entry: string;
    }>) {
      let e: LogEntry;
      try {
        e = JSON.parse(row.entry) as LogEntry;
      } catch {
        throw new ChainError(row.version, 'the entry is not valid JSON');
      }
      if (e.version !== row.version)
        throw new ChainError(
          row.version,
          `the row is numbered ${row.version} but its entry says ${String(e.version)}`,
        );
      verifier.push(e);
      const fault = auditor?.check(e);
      if (fault !== undefined) throw new ChainError(fault.version, `signature audit: ${fault.reason}`);
      entries++;
    }
    return {
      entries,
      head: verifier.version,
      chain_b3: verifier.version === 0 ? ZERO_B3 : verifier.prev,
      signatures_verified: auditor !== undefined,
    };
  } finally {
    db.close();
  }
}

/** The head of a registry SQLite file (version and chain hash), read without verifying anything. */
export function snapshotHead(path: string): { head: number; chain_b3: string } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT entry FROM registry_log ORDER BY version DESC LIMIT 1').get() as
      { entry: string } | undefined;
    if (row === undefined) return { head: 0, chain_b3: ZERO_B3 };
    const e = JSON.parse(row.entry) as LogEntry;
    return { head: e.version, chain_b3: e.entry_b3 };
  } finally {
    db.close();
  }
}
