import { StoreConflictError } from './errors.js';
import type { LogEntry } from './log-entry.js';
import type { LogStore, ProposalRecord } from './store.js';

export interface MemoryStoreOptions {
  /** Keep at most this many newest entries (older ones are forgotten and the floor rises); 0 = keep all. */
  retain?: number;
}

/** Amnesia store: nothing touches disk. With `retain`, memory stays bounded and the floor moves. */
export class MemoryStore implements LogStore {
  readonly kind = 'memory' as const;
  readonly location = 'in-memory';
  readonly #retain: number;
  #entries: LogEntry[] = [];
  /** Version of #entries[0]. */
  #base = 1;
  #open = true;
  readonly #proposals = new Map<string, ProposalRecord>();

  constructor(opts: MemoryStoreOptions = {}) {
    this.#retain = opts.retain ?? 0;
  }

  #lastVersion(): number {
    return this.#base + this.#entries.length - 1;
  }

  append(entry: LogEntry): Promise<void> {
    if (!this.#open) return Promise.reject(new Error('store is closed'));
    const want = this.#lastVersion() + 1;
    if (entry.version !== want) return Promise.reject(new StoreConflictError(want, entry.version));
    // Stored entries are never mutated afterwards: freeze a copy.
    this.#entries.push(Object.freeze(structuredClone(entry)));
    if (this.#retain > 0 && this.#entries.length > this.#retain * 2) {
      const drop = this.#entries.length - this.#retain;
      this.#entries = this.#entries.slice(drop);
      this.#base += drop;
    }
    return Promise.resolve();
  }

  #trimmedFloor(): number {
    if (this.#retain > 0 && this.#entries.length > this.#retain)
      return this.#lastVersion() - this.#retain + 1;
    return this.#base;
  }

  range(after: number, limit: number): Promise<LogEntry[]> {
    const start = Math.max(after + 1, this.#trimmedFloor());
    const i = start - this.#base;
    return Promise.resolve(this.#entries.slice(i, i + Math.max(0, limit)));
  }

  get(version: number): Promise<LogEntry | undefined> {
    if (version < this.#trimmedFloor()) return Promise.resolve(undefined);
    return Promise.resolve(this.#entries[version - this.#base]);
  }

  last(): Promise<LogEntry | undefined> {
    return Promise.resolve(this.#entries.at(-1));
  }

  putProposal(p: ProposalRecord): Promise<void> {
    if (!this.#open) return Promise.reject(new Error('store is closed'));
    this.#proposals.set(p.id, structuredClone(p));
    return Promise.resolve();
  }

  getProposal(id: string): Promise<ProposalRecord | undefined> {
    const p = this.#proposals.get(id);
    return Promise.resolve(p === undefined ? undefined : structuredClone(p));
  }

  listProposals(): Promise<ProposalRecord[]> {
    const ids = [...this.#proposals.keys()].sort();
    return Promise.resolve(ids.map((id) => structuredClone(this.#proposals.get(id) as ProposalRecord)));
  }

  deleteProposals(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#proposals.delete(id);
    return Promise.resolve();
  }

  floor(): number {
    return this.#trimmedFloor();
  }

  isOpen(): boolean {
    return this.#open;
  }

  close(): Promise<void> {
    this.#open = false;
    return Promise.resolve();
  }
}
