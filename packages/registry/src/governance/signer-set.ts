// The signer set (allow-list + threshold) as a versioned value of the log (SPEC §2.1 rotation).
import { ApiError } from '@ron/kernel/core';
import { publicKeyFromSignerId } from '../signing.js';
import { rejectUnknown } from './descriptor.js';

/** What an `op:"signers"` entry carries and its signers sign (with the set's version beside it). */
export interface SignerSetBody {
  /** Sorted, distinct signer ids. */
  signers: string[];
  threshold: number;
}

export interface SignerSet extends SignerSetBody {
  /** 1 for the configured set; each rotation creates current+1. */
  version: number;
}

/**
 * Validates a signer-set body: distinct well-formed ids in sorted order (so the signed bytes are
 * unambiguous) and 1 ≤ threshold ≤ |signers|.
 */
export function parseSignerSetBody(v: unknown, path = 'signers'): SignerSetBody {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ApiError('BadRequest', `${path} must be an object {signers, threshold}`);
  const o = v as Record<string, unknown>;
  rejectUnknown(o, ['signers', 'threshold'], path);
  const { signers, threshold } = o;
  if (!Array.isArray(signers) || signers.length === 0 || signers.length > 256) {
    throw new ApiError('BadRequest', `${path}.signers must be a non-empty array of at most 256 signer ids`);
  }
  for (const [i, s] of signers.entries()) {
    if (typeof s !== 'string' || publicKeyFromSignerId(s) === undefined) {
      throw new ApiError('BadRequest', `${path}.signers[${i}] is not a valid ed25519 signer id`);
    }
    if (i > 0 && (signers[i - 1] as string) >= s) {
      throw new ApiError('BadRequest', `${path}.signers must be sorted and distinct (at index ${i})`, {
        hint: 'sort the ids as byte strings and drop duplicates',
      });
    }
  }
  if (
    !Number.isSafeInteger(threshold) ||
    (threshold as number) < 1 ||
    (threshold as number) > signers.length
  ) {
    throw new ApiError('BadRequest', `${path}.threshold must be an integer 1-${signers.length}`);
  }
  return { signers: signers as string[], threshold: threshold as number };
}

/** Builds the initial (version 1) set from config, sorting and de-duplicating. */
export function initialSignerSet(allow: Iterable<string>, threshold: number): SignerSet {
  const signers = [...new Set(allow)].sort();
  const body = parseSignerSetBody({ signers, threshold }, 'governance');
  return { version: 1, ...body };
}
