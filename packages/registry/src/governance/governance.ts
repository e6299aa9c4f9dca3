// The governance service: propose → approve (over time) → apply, every applied mutation appended to
// the registry log (same chain and stream as commits) and folded into the read model.
import { ApiError } from '@ron/kernel';
import { canonicalJson } from '../canonical.js';
import { b3 } from '../chain.js';
import type { LogEntry } from '../log-entry.js';
import { signBytes, type KeyFile, type Signature } from '../signing.js';
import { parseDescriptor, rejectUnknown, type Descriptor, type DescriptorState } from './descriptor.js';
import { ProposalBook, type Proposal } from './proposals.js';
import { evaluateQuorum, governanceSignedBytes, quorumMet, subjectVersion, type QuorumOutcome, type Subject } from './quorum.js';
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseSignatures(v: unknown, path: string): Signature[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 256) throw new ApiError('BadRequest', `${path} must be an array of at most 256 signatures`);
  return v.map((s, i) => parseSignature(s, `${path}[${i}]`));
}

/** Shape check only; cryptographic checks happen against the signer set. */
export function parseSignature(v: unknown, path = 'signature'): Signature {
  if (!isObject(v)) throw new ApiError('BadRequest', `${path} must be an object {signer_id, alg, sig}`);
  rejectUnknown(v, ['signer_id', 'alg', 'sig'], path);
  if (typeof v.signer_id !== 'string' || typeof v.sig !== 'string' || v.alg !== 'ed25519') {
    throw new ApiError('BadRequest', `${path} must be {signer_id: string, alg: "ed25519", sig: string}`);
  }
  return { signer_id: v.signer_id, alg: 'ed25519', sig: v.sig };
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
    return { subject: { op, descriptor: parseDescriptor(v.descriptor) }, signatures: parseSignatures(v.signatures, 'signatures') };
  }
  if (op === 'signers') {
    rejectUnknown(v, ['op', 'version', 'signers', 'signatures'], 'proposal');
    if (!Number.isSafeInteger(v.version) || (v.version as number) < 2) {
      throw new ApiError('BadRequest', 'proposal.version (the new signer-set version) must be an integer ≥ 2');
    }
    const body = parseSignerSetBody(v.signers);
    return { subject: { op, signers: { version: v.version as number, ...body } }, signatures: parseSignatures(v.signatures, 'signatures') };
  }
  throw new ApiError('BadRequest', 'proposal.op must be "publish", "deprecate" or "signers"');
}

/** Turns a log entry back into a governance entry (undefined for commits). */
export function governanceEntryOf(e: LogEntry): GovernanceEntry | undefined {
  if (e.op === 'commit') return undefined;
  const g: GovernanceEntry = { version: e.version, op: e.op, signatures: e.signatures, committed_at: e.committed_at };
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
  #applying: Promise<unknown> = Promise.resolve();
  /** Last global log version folded into the read model (replay and apply may both see an entry). */
  #folded = 0;

  constructor(o: GovernanceOptions) {
    this.registryId = o.registryId;
    this.state = new GovernanceState(o.initialSigners);
    this.#log = o.log;
    this.#metrics = o.metrics ?? NOOP_METRICS;
    this.#onSignerSet = o.onSignerSet;
    this.#devKey = o.devKey;
    this.#book = new ProposalBook({ ttlMs: o.proposalTtlMs ?? 24 * 3600_000, maxPending: o.maxPendingProposals ?? 10_000, now: o.now ?? Date.now });
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
      err.code === 'ReadOnly' ? { result: 'rejected' as const, reason: 'read_only' as const } :
      err.code === 'Unauthorized' ? { result: 'rejected' as const, reason: 'unauthorized' as const }
      : err.code === 'Forbidden' ? { result: 'rejected' as const, reason: 'forbidden' as const }
      : reasonOf(err);
    this.#metrics.update(r.result);
    this.#metrics.rejected(r.reason);
  }

  #quorum(subject: Subject, sigs: readonly Signature[]): QuorumOutcome {
    const bytes = governanceSignedBytes(this.registryId, subject);
    const cur = this.state.signerSet();
    return subject.op === 'signers' ? evaluateQuorum(sigs, bytes, cur, subject.signers) : evaluateQuorum(sigs, bytes, cur);
  }

  /**
   * Progress without crypto: every stored signature was verified over the (immutable) subject bytes
   * when it was added, so only membership in the set(s) in force is re-checked — signers rotated out
   * since they signed stop counting.
   */
  #progress(p: Proposal): QuorumOutcome {
    const cur = this.state.signerSet();
    const inSet = (set: SignerSet): Signature[] => p.signatures.filter((s) => set.signers.includes(s.signer_id));
    if (p.subject.op !== 'signers') {
      const counted = inSet(cur);
      return { counted, have: counted.length, need: cur.threshold };
    }
    const next = p.subject.signers;
    const counted = p.signatures.filter((s) => cur.signers.includes(s.signer_id) || next.signers.includes(s.signer_id));
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
    return this.#counted(() => {
      const parsed = parseProposalBody(body);
      const subject = parsed.subject;
      let signatures = parsed.signatures;
      this.state.checkApplicable(subject);
      // Dev mode accepts unsigned writes: the process-held key signs (only while it is in the set).
      if (signatures.length === 0 && this.#devKey !== undefined && this.state.signerSet().signers.includes(this.#devKey.signer_id)) {
        signatures = [signBytes(this.#devKey, governanceSignedBytes(this.registryId, subject))];
      }
      const q = this.#quorum(subject, signatures);
      if (q.error !== undefined) throw new ApiError('BadSignature', q.error, { hint: 'sign the exact bytes in docs/signing.md with a key on the allow-list' });
      const p = this.#book.create(subject, q.counted);
      return this.status(p);
    });
  }

  get(id: string): ProposalStatus {
    return this.status(this.#book.get(id));
  }

  /** Pending proposals with their progress (have/need) and expiry, soonest to expire first. */
  listPending(limit: number): ProposalStatus[] {
    return this.#book.listPending(limit).map((p) => this.status(p));
  }

  /** Adds one signature to a pending proposal; a second signature by the same signer is refused (422). */
  approve(id: string, body: unknown): Promise<ProposalStatus> {
    return this.#counted(() => {
      if (!isObject(body)) throw new ApiError('BadRequest', 'approval body must be {signature}');
      rejectUnknown(body, ['signature'], 'approval');
      const sig = parseSignature(body.signature);
      const p = this.#book.get(id);
      if (p.applied !== undefined) throw new ApiError('Conflict', `proposal ${id} is already applied at version ${p.applied.version}`);
      const q = this.#quorum(p.subject, [...this.#liveSignatures(p), sig]);
      if (q.error !== undefined) throw new ApiError('BadSignature', q.error, { hint: 'sign the proposal bytes (ronctl sign) with a key on the allow-list' });
      p.signatures.push(sig);
      return this.status(p);
    });
  }

  /**
   * Applies a proposal once quorum holds: 1. expired → 410; 2. already applied → the same version;
   * 3. version still current+1 → else 409; 4. quorum against the set in force now → else 412;
   * 5. append to the log; 6. fold into the read model. Applies are serialized.
   */
  apply(id: string): Promise<{ version: number; proposal_id: string; op: Subject['op']; subject_version: number; committed_at: string }> {
    const run = async (): Promise<{ version: number; proposal_id: string; op: Subject['op']; subject_version: number; committed_at: string }> => {
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
        throw new ApiError('NoQuorum', msg, { hint: 'add another signer from the allow-list: ronctl registry approve <proposal> --key K' });
      }
      const body = p.subject.op === 'signers' ? p.subject.signers : p.subject.descriptor;
      const append: GovernanceAppend = { op: p.subject.op, payload_b3: b3(canonicalJson(body)), body, signatures: q.counted };
      if (p.subject.op !== 'signers') append.descriptor_id = p.subject.descriptor.id;
      const applied = await this.#log.append(append);
      this.#book.markApplied(p, { version: applied.version, committed_at: applied.committed_at });
      const g: GovernanceEntry = { version: applied.version, op: p.subject.op, signatures: q.counted, committed_at: applied.committed_at };
      if (p.subject.op === 'signers') g.signers = p.subject.signers;
      else g.descriptor = p.subject.descriptor;
      this.#fold(g);
      this.#metrics.update('applied');
      return out(applied);
    };
    const next = this.#applying.then(() => this.#counted(run));
    this.#applying = next.catch(() => undefined);
    return next;
  }
}
