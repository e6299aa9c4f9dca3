// The governance service: propose → approve (over time) → apply, every applied mutation appended to
// the registry log (same chain and stream as commits) and folded into the read model.
import { ApiError } from '@ron/kernel/core';
import { canonicalJson } from '../canonical.js';
import { b3 } from '../chain.js';
import type { LogEntry } from '../log-entry.js';
import { signBytes, verifySignature, type KeyFile, type Signature } from '../signing.js';
import { parseDescriptor, type Descriptor, type DescriptorState } from './descriptor.js';
import { isObject, parseSignature, parseSignatures, rejectUnknown } from '../validation.js';

export { parseSignature };
import { ProposalBook, type Proposal, type ProposalStore } from './proposals.js';
import {
  evaluateQuorum,
  governanceSignedBytes,
  quorumMet,
  subjectVersion,
  type QuorumOutcome,
  type Subject,
} from './quorum.js';
import { parseSignerSetBody, type SignerSet } from './signer-set.js';
import { GovernanceState, type GovernanceEntry } from './state.js';

/** What governance hands the log to append (the log adds version, prev_b3, entry_b3, committed_at). */
export interface GovernanceAppend {
  op: 'publish' | 'deprecate' | 'signers';
  descriptor_id?: string;
  payload_b3: string;
  /** The descriptor, or the signer set `{version, signers, threshold}`. */
  body: Descriptor | SignerSet;
  signatures: Signature[];
}

/** The registry log as governance needs it: append through the same path as commits. */
export interface GovernanceLog {
  append(e: GovernanceAppend): Promise<{ version: number; committed_at: string }>;
}

export type UpdateResult = 'applied' | 'rejected' | 'invalid_sig';
export const REJECT_REASONS = [
  'bad_request',
  'bad_signature',
  'no_quorum',
  'stale_version',
  'conflict',
  'expired',
  'not_found',
  'unauthorized',
  'forbidden',
  'busy',
  'read_only',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Metric hooks (the registry's metrics.ts owns the series; no-ops by default). */
export interface GovernanceMetrics {
  update(result: UpdateResult): void;
  rejected(reason: RejectReason): void;
  descriptors(counts: Record<DescriptorState, number>): void;
}

export const NOOP_METRICS: GovernanceMetrics = { update() {}, rejected() {}, descriptors() {} };

export interface GovernanceOptions {
  registryId: string;
  initialSigners: SignerSet;
  log: GovernanceLog;
  /** Proposal time-to-live (default 24 h). */
  proposalTtlMs?: number;
  maxPendingProposals?: number;
  metrics?: GovernanceMetrics;
  now?: () => number;
  /** Dev mode (loopback only): proposals without signatures are signed with this process-held key. */
  devKey?: KeyFile;
  /** Called whenever a rotation takes effect (e.g. to swap the commit allow-list). */
  onSignerSet?: (set: SignerSet) => void;
  /** Where proposals are kept durably (the registry's store); absent → memory only. */
  proposals?: ProposalStore;
}

export interface ProposalStatus {
  proposal_id: string;
  op: Subject['op'];
  version: number;
  descriptor?: Descriptor;
  signers?: SignerSet;
  have: number;
  need: number;
  detail?: QuorumOutcome['detail'];
  state: 'pending' | 'ready' | 'applied';
  /**
   * True when the subject's current version means this proposal can no longer apply (the
   * descriptor or signer set already reached its version); approvals then answer 409 StaleVersion.
   */
  stale: boolean;
  signatures: Signature[];
  expires_at: string;
  applied_version?: number;
}

function reasonOf(err: ApiError): { result: UpdateResult; reason: RejectReason } {
  switch (err.code) {
    case 'BadSignature':
      return { result: 'invalid_sig', reason: 'bad_signature' };
    case 'NoQuorum':
      return { result: 'rejected', reason: 'no_quorum' };
    case 'StaleVersion':
      return { result: 'rejected', reason: 'stale_version' };
    case 'Conflict':
      return { result: 'rejected', reason: 'conflict' };
    case 'Gone':
      return { result: 'rejected', reason: 'expired' };
    case 'NotFound':
      return { result: 'rejected', reason: 'not_found' };
    case 'Busy':
      return { result: 'rejected', reason: 'busy' };
    default:
      return { result: 'rejected', reason: 'bad_request' };
  }
}

/**
 * Parses a proposal body: `{op:"publish"|"deprecate", descriptor, signatures?}` or
 * `{op:"signers", version, signers:{signers, threshold}, signatures?}`.
 */
export function parseProposalBody(v: unknown): { subject: Subject; signatures: Signature[] } {
  if (!isObject(v)) throw new ApiError('BadRequest', 'proposal body must be a JSON object');
  const op = v.op;
  if (op === 'publish' || op === 'deprecate') {
    rejectUnknown(v, ['op', 'descriptor', 'signatures'], 'proposal');
    return {
      subject: { op, descriptor: parseDescriptor(v.descriptor) },
      signatures: parseSignatures(v.signatures, 'signatures', 256),
    };
  }
  if (op === 'signers') {
    rejectUnknown(v, ['op', 'version', 'signers', 'signatures'], 'proposal');
    if (!Number.isSafeInteger(v.version) || (v.version as number) < 2) {
      throw new ApiError(
        'BadRequest',
        'proposal.version (the new signer-set version) must be an integer ≥ 2',
      );
    }
    const body = parseSignerSetBody(v.signers);
    return {
      subject: { op, signers: { version: v.version as number, ...body } },
      signatures: parseSignatures(v.signatures, 'signatures', 256),
    };
  }
  throw new ApiError('BadRequest', 'proposal.op must be "publish", "deprecate" or "signers"');
}

/** Turns a log entry back into a governance entry (undefined for commits). */
export function governanceEntryOf(e: LogEntry): GovernanceEntry | undefined {
  if (e.op === 'commit') return undefined;
  const g: GovernanceEntry = {
    version: e.version,
    op: e.op,
    signatures: e.signatures,
    committed_at: e.committed_at,
  };
  if (e.op === 'signers') g.signers = e.body as SignerSet;
  else g.descriptor = e.body as Descriptor;
  return g;
}

/** The subject a stored governance entry signed. */
export function subjectOf(e: GovernanceEntry): Subject {
  if (e.op === 'signers') return { op: 'signers', signers: e.signers as SignerSet };
  return { op: e.op, descriptor: e.descriptor as Descriptor };
}

export class Governance {
  readonly state: GovernanceState;
  readonly registryId: string;
  readonly #book: ProposalBook;
  readonly #log: GovernanceLog;
  readonly #metrics: GovernanceMetrics;
  readonly #onSignerSet: ((set: SignerSet) => void) | undefined;
  readonly #devKey: KeyFile | undefined;
  /** Every write (propose, approve, apply) runs in turn: the book and the store change one at a time. */
  #writes: Promise<unknown> = Promise.resolve();
  /** Last global log version folded into the read model (replay and apply may both see an entry). */
  #folded = 0;

  constructor(o: GovernanceOptions) {
    this.registryId = o.registryId;
    this.state = new GovernanceState(o.initialSigners);
    this.#log = o.log;
    this.#metrics = o.metrics ?? NOOP_METRICS;
    this.#onSignerSet = o.onSignerSet;
    this.#devKey = o.devKey;
    this.#book = new ProposalBook({
      ttlMs: o.proposalTtlMs ?? 24 * 3600_000,
      maxPending: o.maxPendingProposals ?? 10_000,
      now: o.now ?? Date.now,
      ...(o.proposals !== undefined ? { store: o.proposals } : {}),
    });
    this.#metrics.descriptors(this.state.counts());
  }

  /** Folds an entry of the log (boot replay or an entry appended elsewhere) into the read model. */
  replay(e: LogEntry): void {
    const g = governanceEntryOf(e);
    if (g !== undefined) this.#fold(g);
  }

  #fold(g: GovernanceEntry): void {
    if (g.version <= this.#folded) return;
    this.#folded = g.version;
    this.state.apply(g);
    if (g.op === 'signers') this.#onSignerSet?.(g.signers as SignerSet);
    else this.#metrics.descriptors(this.state.counts());
  }

  /**
   * Loads the stored proposals (boot, after the log is folded). Each stored signature is verified
   * again over the subject's bytes: a record edited in the store cannot add a signer.
   */
  loadProposals(): Promise<number> {
    return this.#book.load(this.#keepValid);
  }

  readonly #keepValid = (p: Proposal): Signature[] => {
    const bytes = governanceSignedBytes(this.registryId, p.subject);
    return p.signatures.filter((s) => verifySignature(s, bytes));
  };

  /**
   * Re-reads one proposal from the store before it is read or changed: on PostgreSQL the proposals
   * are shared by every replica, so another replica may have created, approved or applied it.
   */
  refresh(id: string): Promise<void> {
    return this.#book.refresh(id, this.#keepValid);
  }

  /** True when the subject's version is at or below the current one: it can never apply. */
  isStale(p: Proposal): boolean {
    if (p.applied !== undefined) return false;
    if (p.subject.op === 'signers') return p.subject.signers.version <= this.state.signerSet().version;
    return p.subject.descriptor.version <= (this.state.current(p.subject.descriptor.id)?.version ?? 0);
  }

  /** Runs a write after every earlier one. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#writes.then(fn);
    this.#writes = next.catch(() => undefined);
    return next;
  }

  pendingProposals(): number {
    return this.#book.pending();
  }

  /** Runs a write, counting rejections by reason before rethrowing. */
  async #counted<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ApiError) this.countRejection(err);
      throw err;
    }
  }

  /** Counts a refused write (`registry_update_total`, `rejected_total{reason}`); server faults are not rejections. */
  countRejection(err: ApiError): void {
    if (err.status >= 500 && err.code !== 'ReadOnly') return;
    const r =
      err.code === 'ReadOnly'
        ? { result: 'rejected' as const, reason: 'read_only' as const }
        : err.code === 'Unauthorized'
          ? { result: 'rejected' as const, reason: 'unauthorized' as const }
          : err.code === 'Forbidden'
            ? { result: 'rejected' as const, reason: 'forbidden' as const }
            : reasonOf(err);
    this.#metrics.update(r.result);
    this.#metrics.rejected(r.reason);
  }

  #quorum(subject: Subject, sigs: readonly Signature[]): QuorumOutcome {
    const bytes = governanceSignedBytes(this.registryId, subject);
    const cur = this.state.signerSet();
    return subject.op === 'signers'
      ? evaluateQuorum(sigs, bytes, cur, subject.signers)
      : evaluateQuorum(sigs, bytes, cur);
  }

  /**
   * Progress without crypto: every stored signature was verified over the (immutable) subject bytes
   * when it was added, so only membership in the set(s) in force is re-checked — signers rotated out
   * since they signed stop counting.
   */
  #progress(p: Proposal): QuorumOutcome {
    const cur = this.state.signerSet();
    const inSet = (set: SignerSet): Signature[] =>
      p.signatures.filter((s) => set.signers.includes(s.signer_id));
    if (p.subject.op !== 'signers') {
      const counted = inSet(cur);
      return { counted, have: counted.length, need: cur.threshold };
    }
    const next = p.subject.signers;
    const counted = p.signatures.filter(
      (s) => cur.signers.includes(s.signer_id) || next.signers.includes(s.signer_id),
    );
    const c = { have: Math.min(inSet(cur).length, cur.threshold), need: cur.threshold };
    const n = { have: Math.min(inSet(next).length, next.threshold), need: next.threshold };
    return { counted, have: c.have + n.have, need: c.need + n.need, detail: { current: c, next: n } };
  }

  status(p: Proposal): ProposalStatus {
    // Signatures from signers rotated out since they signed no longer count.
    const q = this.#progress(p);
    const s: ProposalStatus = {
      proposal_id: p.id,
      op: p.subject.op,
      version: subjectVersion(p.subject),
      have: q.have,
      need: q.need,
      state: p.applied !== undefined ? 'applied' : quorumMet(q) ? 'ready' : 'pending',
      stale: this.isStale(p),
      signatures: p.signatures,
      expires_at: new Date(p.expires_at).toISOString(),
    };
    if (q.detail !== undefined) s.detail = q.detail;
    if (p.subject.op === 'signers') s.signers = p.subject.signers;
    else s.descriptor = p.subject.descriptor;
    if (p.applied !== undefined) s.applied_version = p.applied.version;
    return s;
  }

  #liveSignatures(p: Proposal): Signature[] {
    const cur = new Set(this.state.signerSet().signers);
    if (p.subject.op === 'signers') for (const id of p.subject.signers.signers) cur.add(id);
    return p.signatures.filter((s) => cur.has(s.signer_id));
  }

  /** 1. parse, 2. check the version is applicable now (409), 3. verify every signature given (422). */
  propose(body: unknown): Promise<ProposalStatus> {
    return this.#counted(() =>
      this.#serial(async () => {
        const parsed = parseProposalBody(body);
        const subject = parsed.subject;
        let signatures = parsed.signatures;
        this.state.checkApplicable(subject);
        // Dev mode accepts unsigned writes: the process-held key signs (only while it is in the set).
        if (
          signatures.length === 0 &&
          this.#devKey !== undefined &&
          this.state.signerSet().signers.includes(this.#devKey.signer_id)
        ) {
          signatures = [signBytes(this.#devKey, governanceSignedBytes(this.registryId, subject))];
        }
        const q = this.#quorum(subject, signatures);
        if (q.error !== undefined)
          throw new ApiError('BadSignature', q.error, {
            hint: 'sign the exact bytes in docs/signing.md with a key on the allow-list',
          });
        const p = await this.#book.create(subject, q.counted);
        return this.status(p);
      }),
    );
  }

  get(id: string): ProposalStatus {
    return this.status(this.#book.get(id));
  }

  /** Pending proposals with their progress (have/need) and expiry, soonest to expire first. */
  listPending(limit: number): ProposalStatus[] {
    return this.#book.listPending(limit).map((p) => this.status(p));
  }

  /**
   * Adds one signature to a pending proposal: applied → 409 Conflict, stale → 409 StaleVersion, a
   * second signature by the same signer or an invalid one → 422. Durable before it answers.
   */
  approve(id: string, body: unknown): Promise<ProposalStatus> {
    return this.#counted(() => {
      if (!isObject(body)) throw new ApiError('BadRequest', 'approval body must be {signature}');
      rejectUnknown(body, ['signature'], 'approval');
      const sig = parseSignature(body.signature);
      return this.#serial(async () => {
        await this.#book.refresh(id, this.#keepValid);
        const p = this.#book.get(id);
        if (p.applied !== undefined)
          throw new ApiError('Conflict', `proposal ${id} is already applied at version ${p.applied.version}`);
        if (this.isStale(p)) throw this.#staleError(p);
        const q = this.#quorum(p.subject, [...this.#liveSignatures(p), sig]);
        if (q.error !== undefined)
          throw new ApiError('BadSignature', q.error, {
            hint: 'sign the proposal bytes (ronctl sign) with a key on the allow-list',
          });
        await this.#book.addSignature(p, sig);
        return this.status(p);
      });
    });
  }

  #staleError(p: Proposal): ApiError {
    if (p.subject.op === 'signers') {
      const cur = this.state.signerSet().version;
      return new ApiError(
        'StaleVersion',
        `proposal ${p.id} is stale: the signer set is at version ${cur}, the proposal is for version ${p.subject.signers.version}`,
        {
          hint: `propose a rotation to version ${cur + 1}`,
        },
      );
    }
    const d = p.subject.descriptor;
    const cur = this.state.current(d.id)?.version ?? 0;
    return new ApiError(
      'StaleVersion',
      `proposal ${p.id} is stale: descriptor ${d.id} is at version ${cur}, the proposal is for version ${d.version}`,
      {
        hint: `fetch the descriptor and propose version ${cur + 1}`,
      },
    );
  }

  /**
   * Applies a proposal once quorum holds: 1. expired → 410; 2. already applied → the same version;
   * 3. version still current+1 → else 409; 4. quorum against the set in force now → else 412;
   * 5. append to the log; 6. fold into the read model. Applies are serialized.
   */
  apply(id: string): Promise<{
    version: number;
    proposal_id: string;
    op: Subject['op'];
    subject_version: number;
    committed_at: string;
  }> {
    const run = async (): Promise<{
      version: number;
      proposal_id: string;
      op: Subject['op'];
      subject_version: number;
      committed_at: string;
    }> => {
      await this.#book.refresh(id, this.#keepValid);
      const p = this.#book.get(id);
      const out = (a: { version: number; committed_at: string }) => ({
        version: a.version,
        proposal_id: p.id,
        op: p.subject.op,
        subject_version: subjectVersion(p.subject),
        committed_at: a.committed_at,
      });
      if (p.applied !== undefined) return out(p.applied);
      this.state.checkApplicable(p.subject);
      const q = this.#progress(p);
      if (!quorumMet(q)) {
        const msg =
          q.detail !== undefined
            ? `rotation needs ${q.detail.current.need} signatures of the current set (got ${q.detail.current.have}) and ${q.detail.next.need} of the new set (got ${q.detail.next.have})`
            : `proposal requires ${q.need} valid signatures (got ${q.have})`;
        throw new ApiError('NoQuorum', msg, {
          hint: 'add another signer from the allow-list: ronctl registry approve <proposal> --key K',
        });
      }
      const body = p.subject.op === 'signers' ? p.subject.signers : p.subject.descriptor;
      const append: GovernanceAppend = {
        op: p.subject.op,
        payload_b3: b3(canonicalJson(body)),
        body,
        signatures: q.counted,
      };
      if (p.subject.op !== 'signers') append.descriptor_id = p.subject.descriptor.id;
      const applied = await this.#log.append(append);
      await this.#book.markApplied(p, { version: applied.version, committed_at: applied.committed_at });
      const g: GovernanceEntry = {
        version: applied.version,
        op: p.subject.op,
        signatures: q.counted,
        committed_at: applied.committed_at,
      };
      if (p.subject.op === 'signers') g.signers = p.subject.signers;
      else g.descriptor = p.subject.descriptor;
      this.#fold(g);
      this.#metrics.update('applied');
      return out(applied);
    };
    return this.#counted(() => this.#serial(run));
  }
}
