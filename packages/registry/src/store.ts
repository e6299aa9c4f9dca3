// One store interface for every backend (SPEC §2.5). Methods are async so a networked backend
// (PostgreSQL) fits; embedded backends resolve immediately.
import type { Subject } from './governance/quorum.js';
import type { LogEntry } from './log-entry.js';
import type { Signature } from './signing.js';

export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/**
 * A governance proposal as stored (SPEC §2.2: proposals are durable and shared by every replica).
 * The store keeps it opaque: whole records in, whole records out.
 */
export interface ProposalRecord {
  /** ULID: sorts by creation time. */
  id: string;
  subject: Subject;
  /** Distinct signatures verified when they were added. */
  signatures: Signature[];
  /** Epoch milliseconds. */
  created_at: number;
  expires_at: number;
  /** Set once applied: the global log version of its entry. */
  applied?: { version: number; committed_at: string };
}

/** An entry with the exact text the store keeps for it (the JCS text it was appended as). */
export interface StoredEntry {
  entry: LogEntry;
  text: string;
}

export interface LogStore {
  readonly kind: StoreKind;
  /** Human description for logs (path, "in-memory"). */
  readonly location: string;
  /**
   * Appends one entry. Must be exactly last version + 1 (else StoreConflictError). Resolves only
   * once the entry is durable for this backend: the caller acknowledges the commit after this.
   * `text`, when given, is the entry's JCS text (the registry encoded it when sealing): a store that
   * keeps entries as text keeps exactly these bytes instead of encoding the entry again.
   */
  append(entry: LogEntry, text?: string): Promise<void>;
  /**
   * True when append() may be called again before the previous append settled: appends are then
   * applied and settled in call order, and an append whose version is no longer last + 1 (because
   * an earlier one failed) fails. The registry then hands every sealed entry over at once (SQLite:
   * the group-commit writer batches them into one transaction). Otherwise it waits for each append.
   */
  readonly pipelined?: boolean;
  /** Up to `limit` entries with version > after, ascending. Entries below the floor are absent. */
  range(after: number, limit: number): Promise<LogEntry[]>;
  /**
   * Like `range`, with each entry's stored text (stores that keep entries as text): boot replay
   * checks the hash chain on the text instead of canonicalizing every entry again. A row that does
   * not parse is a ChainError naming its version.
   */
  rangeStored?(after: number, limit: number): Promise<StoredEntry[]>;
  /** One entry, or undefined past the head or below the floor. */
  get(version: number): Promise<LogEntry | undefined>;
  /** The newest entry, or undefined for an empty log. */
  last(): Promise<LogEntry | undefined>;
  /** Creates or replaces a proposal record; resolves once it is durable for this backend. */
  putProposal(p: ProposalRecord): Promise<void>;
  /** One proposal record, or undefined. */
  getProposal(id: string): Promise<ProposalRecord | undefined>;
  /** Every stored proposal record in id (= creation) order. */
  listProposals(): Promise<ProposalRecord[]>;
  /** Forgets proposal records (unknown ids are ignored). */
  deleteProposals(ids: readonly string[]): Promise<void>;
  /** Lowest version still retained (1 when the whole log is kept, including an empty log). */
  floor(): number;
  isOpen(): boolean;
  close(): Promise<void>;
}
