// Judging a signed commit as the one creating a given version (SPEC §2.1, §2.2): every presented
// signature allow-listed, distinct and valid over JCS({domain, registry, op:"commit", payload_b3,
// version}) (else 422 BadSignature), and enough of them (else 412 NoQuorum).
import { ApiError } from '@ron/kernel';
import { commitSignedBytes } from './commit-bytes.js';
import { quorumOf, signBytes, verifySignature, type KeyFile, type Signature } from './signing.js';

/** What a commit is judged against: the registry id and the signer set in force. */

/** A signed commit as the API receives it. */
export interface CommitRequest {
  payload_b3: string;
  signatures: Signature[];
}

export type CommitOutcome = 'ok' | 'no_quorum' | 'bad_signature' | 'store_error';

export interface CommitSigners {
  registryId: string;
  allow: ReadonlySet<string>;
  threshold: number;
  /** Dev mode on loopback: a commit without signatures is signed with this key. */
  devKey: KeyFile | undefined;
}

/** A commit's check at one version: the signatures to seal it with, or why it is refused. */
export type CommitCheck =
  | { refusal: undefined; signatures: Signature[] }
  | { refusal: ApiError; outcome: Exclude<CommitOutcome, 'ok'> };

/** The bytes a commit creating `version` is signed over. */
export function commitBytes(registryId: string, payload_b3: string, version: number): Buffer {
  return commitSignedBytes(registryId, payload_b3, version);
}

/**
 * Judges `req` as the commit creating `version`. `firstVerified`: the caller has just verified
 * `req.signatures[0]` at this very version (signedVersionAmong), so it is not verified again.
 */
export function checkCommit(
  s: CommitSigners,
  req: CommitRequest,
  version: number,
  firstVerified = false,
): CommitCheck {
  const bytes = commitBytes(s.registryId, req.payload_b3, version);
  let signatures = req.signatures;
  if (signatures.length === 0 && s.devKey !== undefined) signatures = [signBytes(s.devKey, bytes)];
  // 1. Every presented signature must be allow-listed, distinct and valid (422).
  const q = quorumOf(signatures, bytes, s.allow, s.threshold, firstVerified ? req.signatures[0] : undefined);
  if (q.error !== undefined) {
    return {
      outcome: 'bad_signature',
      refusal: new ApiError('BadSignature', q.error.message, {
        hint: `sign JCS({"domain":"ron-registry/v1","registry":"${s.registryId}","op":"commit","payload_b3":…,"version":${version}})`,
      }),
    };
  }
  // 2. Enough distinct signers (412).
  if (q.have < q.need) {
    return {
      outcome: 'no_quorum',
      refusal: new ApiError(
        'NoQuorum',
        `commit requires ${q.need} valid signature${q.need === 1 ? '' : 's'} (got ${q.have})`,
        { hint: 'add another signer from the allow-list' },
      ),
    };
  }
  return { refusal: undefined, signatures };
}

/**
 * The first of `candidates` at which the commit's first signature verifies, or undefined. Each
 * candidate costs one Ed25519 verify and is tried only while `spend()` allows it: the caller bounds
 * the work. The rest of the commit (other signatures, quorum) is not judged here.
 */
export function signedVersionAmong(
  s: CommitSigners,
  req: CommitRequest,
  candidates: Iterable<number>,
  spend: () => boolean,
): number | undefined {
  const first = req.signatures[0];
  if (first === undefined || !s.allow.has(first.signer_id)) return undefined;
  for (const v of candidates) {
    if (!spend()) return undefined;
    if (verifySignature(first, commitBytes(s.registryId, req.payload_b3, v))) return v;
  }
  return undefined;
}
