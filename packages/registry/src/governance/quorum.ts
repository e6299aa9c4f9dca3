// Signed bytes for governance ops and the quorum rules (M-of-N; rotation needs both sets).
import { checkQuorum, signedBytes, verifySignature, type Signature } from '../signing.js';
import type { Descriptor } from './descriptor.js';
import type { SignerSet } from './signer-set.js';

export type GovernanceOp = 'publish' | 'deprecate' | 'signers';
export const GOVERNANCE_OPS: readonly GovernanceOp[] = ['publish', 'deprecate', 'signers'];

/** The subject of a governance mutation: a descriptor version or a new signer set. */
export type Subject =
  { op: 'publish' | 'deprecate'; descriptor: Descriptor } | { op: 'signers'; signers: SignerSet };

/** The version a subject's signatures are bound to (descriptor version or signer-set version). */
export function subjectVersion(s: Subject): number {
  return s.op === 'signers' ? s.signers.version : s.descriptor.version;
}

/**
 * The exact bytes signed for a governance op (SPEC §2.1):
 * `JCS({domain, registry, op, descriptor, version})` or `JCS({domain, registry, op:"signers", signers:{signers, threshold}, version})`.
 * @example governanceSignedBytes('default', { op: 'publish', descriptor })
 */
export function governanceSignedBytes(registry: string, s: Subject): Buffer {
  if (s.op === 'signers') {
    const { signers, threshold, version } = s.signers;
    return signedBytes({ registry, op: 'signers', version, signers: { signers, threshold } });
  }
  return signedBytes({ registry, op: s.op, version: s.descriptor.version, descriptor: s.descriptor });
}

export interface QuorumOutcome {
  /** Signatures that count (valid, distinct, allow-listed), in the order given. */
  counted: Signature[];
  have: number;
  need: number;
  /** For rotations: progress against the current and the new set separately. */
  detail?: { current: { have: number; need: number }; next: { have: number; need: number } };
  /** A signature that must be refused (422 BadSignature). */
  error?: string;
}

/**
 * Checks signatures over `bytes` against the set in force (and, for a rotation, the new set too).
 * Every signature must be well formed, valid, by a distinct signer of an applicable set; otherwise `error`.
 */
export function evaluateQuorum(
  sigs: readonly Signature[],
  bytes: Buffer,
  current: SignerSet,
  next?: SignerSet,
): QuorumOutcome {
  if (next === undefined) {
    const r = checkQuorum(sigs, bytes, new Set(current.signers), current.threshold);
    const counted = sigs.filter((s) => r.valid.includes(s.signer_id));
    const out: QuorumOutcome = { counted, have: r.have, need: r.need };
    if (r.error !== undefined) out.error = r.error.message;
    return out;
  }
  const allow = new Set([...current.signers, ...next.signers]);
  const seen = new Set<string>();
  const counted: Signature[] = [];
  for (const [i, s] of sigs.entries()) {
    const id = typeof s?.signer_id === 'string' ? s.signer_id : '';
    const fail = (error: string): QuorumOutcome => ({
      counted,
      have: 0,
      need: current.threshold + next.threshold,
      error,
    });
    if (seen.has(id)) return fail(`signatures[${i}]: signer ${id} signed more than once`);
    seen.add(id);
    if (!allow.has(id))
      return fail(
        `signatures[${i}]: signer ${id || '(none)'} is in neither the current nor the new signer set`,
      );
    if (!verifySignature(s, bytes)) return fail(`signatures[${i}]: signature by ${id} does not verify`);
    counted.push(s);
  }
  const inCur = counted.filter((s) => current.signers.includes(s.signer_id)).length;
  const inNext = counted.filter((s) => next.signers.includes(s.signer_id)).length;
  const cur = { have: Math.min(inCur, current.threshold), need: current.threshold };
  const nxt = { have: Math.min(inNext, next.threshold), need: next.threshold };
  return {
    counted,
    have: cur.have + nxt.have,
    need: cur.need + nxt.need,
    detail: { current: cur, next: nxt },
  };
}

/** True when the outcome meets the threshold(s). */
export function quorumMet(q: QuorumOutcome): boolean {
  if (q.error !== undefined) return false;
  if (q.detail !== undefined)
    return q.detail.current.have >= q.detail.current.need && q.detail.next.have >= q.detail.next.need;
  return q.have >= q.need;
}
