// Pending proposals: signatures collected over time until apply (M-of-N), with a TTL.
import { ApiError, ulid } from '@ron/kernel';
import type { Signature } from '../signing.js';
import type { Subject } from './quorum.js';

export interface Proposal {
  id: string;
  subject: Subject;
  /** Distinct, verified signatures collected so far. */
  signatures: Signature[];
  created_at: number;
  expires_at: number;
  /** Set once applied: the global log version of the entry (re-apply returns it again). */
  applied?: { version: number; committed_at: string };
}

export interface ProposalBookOptions {
  ttlMs: number;
  /** Pending proposals kept at most; more → 429 Busy. */
  maxPending: number;
  now: () => number;
}

/**
 * Proposals by id. Expired ones answer 410 Gone for another TTL, then 404 (forgotten). With a fixed
 * TTL, insertion order is expiry order, so sweeping and counting touch only what changes.
 */
export class ProposalBook {
  readonly #byId = new Map<string, Proposal>();
  /** Unapplied proposals in creation (= expiry) order. */
  readonly #pending = new Map<string, Proposal>();
  readonly #o: ProposalBookOptions;

  constructor(o: ProposalBookOptions) {
    this.#o = o;
  }

  create(subject: Subject, signatures: Signature[]): Proposal {
    this.sweep();
    if (this.pending() >= this.#o.maxPending) {
      throw new ApiError('Busy', `too many pending proposals (${this.#o.maxPending})`, { hint: 'apply or let proposals expire, then retry' });
    }
    const now = this.#o.now();
    const p: Proposal = { id: ulid(now), subject, signatures, created_at: now, expires_at: now + this.#o.ttlMs };
    this.#byId.set(p.id, p);
    this.#pending.set(p.id, p);
    return p;
  }

  /** Records that a proposal was applied (it no longer counts as pending and never expires). */
  markApplied(p: Proposal, applied: { version: number; committed_at: string }): void {
    p.applied = applied;
    this.#pending.delete(p.id);
  }

  /** The proposal, or 404 NotFound / 410 Gone when expired (applied proposals never expire). */
  get(id: string): Proposal {
    const p = this.#byId.get(id);
    const now = this.#o.now();
    if (p === undefined || (p.applied === undefined && now >= p.expires_at + this.#o.ttlMs)) {
      throw new ApiError('NotFound', `no proposal ${id}`, { hint: 'propose again (proposals are forgotten a TTL after they expire)' });
    }
    if (p.applied === undefined && now >= p.expires_at) {
      throw new ApiError('Gone', `proposal ${id} expired at ${new Date(p.expires_at).toISOString()}`, { hint: 'propose again and collect signatures within the TTL' });
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

  /** Forgets proposals a TTL past their expiry (applied ones too: re-apply then answers 404). */
  sweep(): void {
    const now = this.#o.now();
    for (const [id, p] of this.#byId) {
      if (now < p.expires_at + this.#o.ttlMs) break;
      this.#byId.delete(id);
      this.#pending.delete(id);
    }
  }
}
