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

/** Proposals by id. Expired ones answer 410 Gone for another TTL, then 404 (forgotten). */
export class ProposalBook {
  readonly #byId = new Map<string, Proposal>();
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
    return p;
  }

  /** The proposal, or 404 NotFound / 410 Gone when expired (applied proposals never expire). */
  get(id: string): Proposal {
    const p = this.#byId.get(id);
    const now = this.#o.now();
    if (p === undefined || (p.applied === undefined && now >= p.expires_at + this.#o.ttlMs)) {
      throw new ApiError('NotFound', `no proposal ${id}`, { hint: 'list pending work with GET /registry/stats or propose again' });
    }
    if (p.applied === undefined && now >= p.expires_at) {
      throw new ApiError('Gone', `proposal ${id} expired at ${new Date(p.expires_at).toISOString()}`, { hint: 'propose again and collect signatures within the TTL' });
    }
    return p;
  }

  pending(): number {
    const now = this.#o.now();
    let n = 0;
    for (const p of this.#byId.values()) if (p.applied === undefined && now < p.expires_at) n++;
    return n;
  }

  /** Forgets proposals past twice their TTL (and applied ones after the same grace). */
  sweep(): void {
    const now = this.#o.now();
    for (const [id, p] of this.#byId) {
      if (now >= p.expires_at + this.#o.ttlMs) this.#byId.delete(id);
    }
  }
}
