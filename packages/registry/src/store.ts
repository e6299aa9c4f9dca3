// One store interface for every backend (SPEC §2.5). Methods are async so a networked backend
// (PostgreSQL) fits; embedded backends resolve immediately.
import type { LogEntry } from './log-entry.js';

export type StoreKind = 'memory' | 'sqlite' | 'postgres';

export interface LogStore {
  readonly kind: StoreKind;
  /** Human description for logs (path, "in-memory"). */
  readonly location: string;
  /**
   * Appends one entry. Must be exactly last version + 1 (else StoreConflictError). Resolves only
   * once the entry is durable for this backend: the caller acknowledges the commit after this.
   */
  append(entry: LogEntry): Promise<void>;
  /** Up to `limit` entries with version > after, ascending. Entries below the floor are absent. */
  range(after: number, limit: number): Promise<LogEntry[]>;
  /** One entry, or undefined past the head or below the floor. */
  get(version: number): Promise<LogEntry | undefined>;
  /** The newest entry, or undefined for an empty log. */
  last(): Promise<LogEntry | undefined>;
  /** Lowest version still retained (1 when the whole log is kept, including an empty log). */
  floor(): number;
  isOpen(): boolean;
  close(): Promise<void>;
}
