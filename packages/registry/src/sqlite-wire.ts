// The messages between the registry's SQLite store (main thread) and its writer thread.
import type { SnapshotProgress } from '@ron/kernel/backup';

export type ThreadRequest = { id: number } & (
  | { op: 'append'; version: number; kind: string; json: string }
  | { op: 'putProposal'; pid: string; json: string }
  | { op: 'deleteProposals'; ids: readonly string[] }
  | { op: 'range'; after: number; limit: number }
  | { op: 'get'; version: number }
  | { op: 'last' }
  | { op: 'getProposal'; pid: string }
  | { op: 'listProposals' }
  | { op: 'snapshot'; dest: string }
  | { op: 'close' }
);

/** An error as it crosses the thread boundary (rebuilt on the main thread). */
export interface WireError {
  name: string;
  message: string;
  /** SQLite's error code (SQLITE_FULL, SQLITE_IOERR…), which durableWriteError maps to 507/503. */
  code?: string;
  expected?: number;
  got?: number;
}

export type ThreadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  | { id: number; progress: SnapshotProgress };
