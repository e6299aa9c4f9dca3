// The governance read model, rebuilt from the log: descriptors with history, signer sets by version.
import { ApiError } from '@ron/kernel/core';
import type { Signature } from '../signing.js';
import { regionOf, type Descriptor, type DescriptorKind, type DescriptorState } from './descriptor.js';
import type { GovernanceOp, Subject } from './quorum.js';
import type { SignerSet } from './signer-set.js';

/** The governance part of an applied log entry (publish/deprecate carry `descriptor`, signers carry `signers`). */
export interface GovernanceEntry {
  /** Global log version of the entry. */
  version: number;
  op: GovernanceOp;
  descriptor?: Descriptor;
  signers?: SignerSet;
  signatures: Signature[];
  committed_at: string;
}

export interface DescriptorRecord extends Descriptor {
  state: DescriptorState;
  signatures: Signature[];
  /** Global log version of the entry that created this descriptor version. */
  log_version: number;
  committed_at: string;
}

export interface ListOptions {
  kind?: DescriptorKind;
  region?: string;
  limit: number;
  /** Exclusive: ids strictly greater than this. */
  after?: string;
}

export interface RegionService {
  id: string;
  addr: string;
  tls: boolean;
  weight: number;
}

function lowerBound(arr: readonly string[], x: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((arr[mid] as string) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class GovernanceState {
  readonly #history = new Map<string, DescriptorRecord[]>();
  readonly #ids: string[] = [];
  /** Signer sets in version order with the log version from which each is in force. */
  readonly #sets: { from: number; set: SignerSet }[];
  #regionCache: Record<string, { services: RegionService[] }> | undefined;
  #counts = { published: 0, deprecated: 0 };

  constructor(initial: SignerSet) {
    this.#sets = [{ from: 0, set: initial }];
  }

  /** The signer set in force now. */
  signerSet(): SignerSet {
    return (this.#sets[this.#sets.length - 1] as { set: SignerSet }).set;
  }

  /** The signer set that governed an entry at global log version `v` (the set in force just before it). */
  signerSetFor(v: number): SignerSet {
    let cur = (this.#sets[0] as { set: SignerSet }).set;
    for (const s of this.#sets) {
      if (s.from < v) cur = s.set;
      else break;
    }
    return cur;
  }

  /** Every signer set with the first log version it governs. */
  signerSets(): { from_version: number; set: SignerSet }[] {
    return this.#sets.map((s) => ({ from_version: s.from + 1, set: s.set }));
  }

  current(id: string): DescriptorRecord | undefined {
    const h = this.#history.get(id);
    return h?.[h.length - 1];
  }

  at(id: string, version: number): DescriptorRecord | undefined {
    return this.#history.get(id)?.[version - 1];
  }

  counts(): { published: number; deprecated: number } {
    return { ...this.#counts };
  }

  size(): number {
    return this.#ids.length;
  }

  /**
   * Throws unless the subject may be applied now: descriptor version exactly current+1
   * (409 StaleVersion: rollback protection), no publish after deprecation, no kind change,
   * signer-set version exactly current+1.
   */
  checkApplicable(s: Subject): void {
    if (s.op === 'signers') {
      const cur = this.signerSet().version;
      if (s.signers.version !== cur + 1) {
        throw new ApiError(
          'StaleVersion',
          `signer set version ${s.signers.version} is not current+1 (current ${cur})`,
          {
            hint: `sign a rotation to version ${cur + 1}`,
          },
        );
      }
      return;
    }
    const d = s.descriptor;
    const cur = this.current(d.id);
    const curVersion = cur?.version ?? 0;
    if (d.version !== curVersion + 1) {
      throw new ApiError(
        'StaleVersion',
        `descriptor ${d.id} version ${d.version} is not current+1 (current ${curVersion})`,
        {
          hint: `fetch the descriptor and sign version ${curVersion + 1}`,
        },
      );
    }
    if (cur === undefined && s.op === 'deprecate') {
      throw new ApiError('Conflict', `descriptor ${d.id} does not exist, so it cannot be deprecated`);
    }
    if (cur !== undefined && cur.state === 'deprecated') {
      throw new ApiError('Conflict', `descriptor ${d.id} is deprecated; deprecation is final`, {
        hint: 'publish under a new id',
      });
    }
    if (cur !== undefined && cur.kind !== d.kind) {
      throw new ApiError(
        'Conflict',
        `descriptor ${d.id} is a ${cur.kind}; its kind cannot change to ${d.kind}`,
      );
    }
  }

  /** Folds one applied log entry into the view. Entries must arrive in log order. */
  apply(e: GovernanceEntry): void {
    if (e.op === 'signers') {
      if (e.signers === undefined) throw new TypeError(`entry ${e.version}: signers op without signers`);
      this.#sets.push({ from: e.version, set: e.signers });
      return;
    }
    const d = e.descriptor;
    if (d === undefined) throw new TypeError(`entry ${e.version}: ${e.op} without descriptor`);
    let h = this.#history.get(d.id);
    const prev = h?.[h.length - 1];
    if (h === undefined) {
      h = [];
      this.#history.set(d.id, h);
      this.#ids.splice(lowerBound(this.#ids, d.id), 0, d.id);
    }
    const state: DescriptorState = e.op === 'deprecate' ? 'deprecated' : 'published';
    h.push({ ...d, state, signatures: e.signatures, log_version: e.version, committed_at: e.committed_at });
    if (prev !== undefined) this.#counts[prev.state]--;
    this.#counts[state]++;
    if (d.kind === 'service' || prev?.kind === 'service') this.#regionCache = undefined;
  }

  /** A page of latest descriptors in id order. */
  list(o: ListOptions): { items: DescriptorRecord[]; next_cursor: string | null } {
    const items: DescriptorRecord[] = [];
    let i = o.after === undefined ? 0 : lowerBound(this.#ids, o.after);
    if (o.after !== undefined && this.#ids[i] === o.after) i++;
    for (; i < this.#ids.length; i++) {
      const rec = this.current(this.#ids[i] as string) as DescriptorRecord;
      if (o.kind !== undefined && rec.kind !== o.kind) continue;
      if (o.region !== undefined && regionOf(rec) !== o.region) continue;
      if (items.length === o.limit) {
        const last = items[items.length - 1];
        return { items, next_cursor: last === undefined ? null : last.id };
      }
      items.push(rec);
    }
    return { items, next_cursor: null };
  }

  /** Every latest descriptor (for stream snapshots), in id order. */
  *all(): Iterable<DescriptorRecord> {
    for (const id of this.#ids) yield this.current(id) as DescriptorRecord;
  }

  /** Derived view: published services grouped by region (cached until a service changes). */
  regions(): Record<string, { services: RegionService[] }> {
    if (this.#regionCache !== undefined) return this.#regionCache;
    const out: Record<string, { services: RegionService[] }> = {};
    for (const id of this.#ids) {
      const d = this.current(id) as DescriptorRecord;
      if (d.kind !== 'service' || d.state !== 'published') continue;
      const region = regionOf(d) as string;
      const svc: RegionService = {
        id: d.id,
        addr: d.body.addr as string,
        tls: d.body.tls === true,
        weight: typeof d.body.weight === 'number' ? d.body.weight : 1,
      };
      (out[region] ??= { services: [] }).services.push(svc);
    }
    this.#regionCache = out;
    return out;
  }
}
