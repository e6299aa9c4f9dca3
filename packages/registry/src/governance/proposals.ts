// Pending proposals: signatures collected over time until apply (M-of-N), with a TTL. Durable
// (SPEC §2.2): every change is written through to the store before it is acknowledged, and the
// book is reloaded from the store at boot, so approvals collected over hours survive a restart.
import { ApiError, ulid } from '@ron/kernel/core';
import type { Signature } from '../signing.js';
import { storeWriteError } from '../store-errors.js';
import type { ProposalRecord } from '../store.js';
import type { Subject } from './quorum.js';

export type Proposal = ProposalRecord;

/** The slice of a LogStore the book persists through (store-agnostic: memory, SQLite, PostgreSQL). */
export interface ProposalStore {
  putProposal(p: ProposalRecord): Promise<void>;
  listProposals(): Promise<ProposalRecord[]>;
  deleteProposals(ids: readonly string[]): Promise<void>;
  /** One record (read-through for stores shared by replicas). */
  getProposal?(id: string): Promise<ProposalRecord | undefined>;
}

export interface ProposalBookOptions {
  ttlMs: number;
  /** Pending proposals kept at most; more → 429 Busy. */
  maxPending: number;
  now: () => number;
  /** Where proposals live; absent → memory only (unit tests). */
  store?: ProposalStore;
}

/**
 * Proposals by id. Expired ones answer 410 Gone for another TTL, then 404 (forgotten). With a fixed
 * TTL, insertion order is expiry order, so sweeping and counting touch only what changes. Callers
 * serialize mutations (Governance runs every write through one queue).
 */
export class ProposalBook {
  readonly #byId = new Map<string, Proposal>();
  /** Unapplied proposals in creation (= expiry) order. */
  readonly #pending = new Map<string, Proposal>();
  readonly #o: ProposalBookOptions;

  constructor(o: ProposalBookOptions) {
    this.#o = o;
  }

  /**
   * Loads the stored proposals (boot). `keep` may drop signatures that no longer verify, so a
   * tampered record cannot smuggle a signature in.
   */
  async load(keep: (p: Proposal) => Signature[] = (p) => p.signatures): Promise<number> {
    if (this.#o.store === undefined) return 0;
    const all = await this.#o.store.listProposals();
    all.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
    for (const p of all) {
      p.signatures = keep(p);
      this.#byId.set(p.id, p);
      if (p.applied === undefined) this.#pending.set(p.id, p);
    }
    await this.sweep();
    return this.#byId.size;
  }

  /**
   * Re-reads one proposal from the store (shared by every replica on PostgreSQL: another replica may
   * have created, approved or applied it). The stored record wins over the in-memory copy. An
   * unreachable store leaves the in-memory copy (reads go on; a write then fails durably anyway).
   */
  async refresh(id: string, keep: (p: Proposal) => Signature[] = (p) => p.signatures): Promise<void> {
    const store = this.#o.store;
    if (store?.getProposal === undefined) return;
    let p: Proposal | undefined;
    try {
      p = await store.getProposal(id);
    } catch {
      return;
    }
    if (p === undefined) return;
    p.signatures = keep(p);
    this.#byId.set(p.id, p);
    if (p.applied === undefined) this.#pending.set(p.id, p);
    else this.#pending.delete(p.id);
  }

  async create(subject: Subject, signatures: Signature[]): Promise<Proposal> {
    await this.sweep();
    if (this.pending() >= this.#o.maxPending) {
      throw new ApiError('Busy', `too many pending proposals (${this.#o.maxPending})`, {
        hint: 'apply or let proposals expire, then retry',
      });
    }
    const now = this.#o.now();
    const p: Proposal = {
      id: ulid(now),
      subject,
      signatures,
      created_at: now,
      expires_at: now + this.#o.ttlMs,
    };
    await this.#persist(p);
    this.#byId.set(p.id, p);
    this.#pending.set(p.id, p);
    return p;
  }

  /** Adds a (verified) signature; durable before the in-memory record changes. */
  async addSignature(p: Proposal, sig: Signature): Promise<void> {
    await this.#persist({ ...p, signatures: [...p.signatures, sig] });
    p.signatures.push(sig);
  }

  /** Records that a proposal was applied (it no longer counts as pending and never expires). */
  async markApplied(p: Proposal, applied: { version: number; committed_at: string }): Promise<void> {
    await this.#persist({ ...p, applied });
    p.applied = applied;
    this.#pending.delete(p.id);
  }

  async #persist(p: Proposal): Promise<void> {
    if (this.#o.store === undefined) return;
    try {
      await this.#o.store.putProposal(p);
    } catch (err) {
      throw storeWriteError(
        err,
        'the store could not make the proposal durable',
        'see the server log; retry later',
      );
    }
  }

  /** The proposal, or 404 NotFound / 410 Gone when expired (applied proposals never expire). */
  get(id: string): Proposal {
    const p = this.#byId.get(id);
    const now = this.#o.now();
    if (p === undefined || (p.applied === undefined && now >= p.expires_at + this.#o.ttlMs)) {
      throw new ApiError('NotFound', `no proposal ${id}`, {
        hint: 'propose again (proposals are forgotten a TTL after they expire)',
      });
    }
    if (p.applied === undefined && now >= p.expires_at) {
      throw new ApiError('Gone', `proposal ${id} expired at ${new Date(p.expires_at).toISOString()}`, {
        hint: 'propose again and collect signatures within the TTL',
      });
    }
    return p;
  }

  /** Unapplied, unexpired proposals. */
  pending(): number {
    const now = this.#o.now();
    for (const [id, p] of this.#pending) {
      if (now < p.expires_at) break;
      this.#pending.delete(id);
    }
    return this.#pending.size;
  }

  /** Unapplied, unexpired proposals, oldest (= soonest to expire) first, at most `limit`. */
  listPending(limit: number): Proposal[] {
    this.pending();
    return [...this.#pending.values()].slice(0, limit);
  }

  /** Forgets proposals a TTL past their expiry (applied ones too: re-apply then answers 404), in the store too. */
  async sweep(): Promise<void> {
    const now = this.#o.now();
    const gone: string[] = [];
    for (const [id, p] of this.#byId) {
      if (now < p.expires_at + this.#o.ttlMs) break;
      this.#byId.delete(id);
      this.#pending.delete(id);
      gone.push(id);
    }
    // Forgetting is housekeeping: a failure leaves rows that the next sweep (or boot) drops.
    if (gone.length > 0) await this.#o.store?.deleteProposals(gone).catch(() => undefined);
  }
}
