// The log's data model (SPEC §2.1).
import type { Signature } from './signing.js';

export type LogOp = 'commit' | 'publish' | 'deprecate' | 'signers';
export const LOG_OPS: readonly LogOp[] = ['commit', 'publish', 'deprecate', 'signers'];

/** Genesis value for prev_b3 / chain_b3 / payload_b3 of the empty log. */
export const ZERO_B3 = 'b3:0';

/** One applied mutation. `entry_b3 = BLAKE3(prev_b3 ‖ JCS(entry without entry_b3))`. */
export interface LogEntry {
  version: number;
  op: LogOp;
  /** publish/deprecate only. */
  descriptor_id?: string;
  payload_b3: string;
  /** Op-specific content (descriptor, signer set) for ops that carry one; hashed into the chain. */
  body?: unknown;
  prev_b3: string;
  entry_b3: string;
  /** RFC 3339 UTC with milliseconds. */
  committed_at: string;
  signatures: Signature[];
}

export type UnhashedEntry = Omit<LogEntry, 'entry_b3'>;

export interface Head {
  version: number;
  payload_b3: string;
  committed_at: string | null;
  chain_b3: string;
}

export const FRESH_HEAD: Head = Object.freeze({
  version: 0,
  payload_b3: ZERO_B3,
  committed_at: null,
  chain_b3: ZERO_B3,
});

export function headOf(e: LogEntry): Head {
  return { version: e.version, payload_b3: e.payload_b3, committed_at: e.committed_at, chain_b3: e.entry_b3 };
}

/** What the stream carries per entry (`event: commit`): everything but signatures and body. */
export interface EntrySummary {
  version: number;
  op: LogOp;
  descriptor_id?: string;
  payload_b3: string;
  prev_b3: string;
  entry_b3: string;
  committed_at: string;
  signers: string[];
}

export function summaryOf(e: LogEntry): EntrySummary {
  const s: EntrySummary = {
    version: e.version,
    op: e.op,
    payload_b3: e.payload_b3,
    prev_b3: e.prev_b3,
    entry_b3: e.entry_b3,
    committed_at: e.committed_at,
    signers: e.signatures.map((x) => x.signer_id),
  };
  if (e.descriptor_id !== undefined) s.descriptor_id = e.descriptor_id;
  return s;
}
