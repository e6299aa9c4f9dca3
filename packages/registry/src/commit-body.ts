// Validation of POST /registry/commit bodies: exact shape, unknown fields rejected (400); the
// signature rules are the proposals' (validation.ts).
import { ApiError } from '@ron/kernel/core';
import type { CommitRequest } from './registry.js';
import { isObject, parseSignatures, rejectUnknown } from './validation.js';

export const PAYLOAD_B3_RE = /^b3:[A-Za-z0-9_+/=-]{1,128}$/;
const MAX_SIGNATURES = 64;

/** Checks a parsed body; throws ApiError BadRequest naming the field and the rule (422 for a non-ed25519 alg). */
export function parseCommitBody(body: unknown): CommitRequest {
  if (!isObject(body))
    throw new ApiError('BadRequest', 'body must be a JSON object {"payload_b3":"b3:…","signatures":[…]}');
  rejectUnknown(body, ['payload_b3', 'signatures'], 'the commit body');
  const p = body.payload_b3;
  if (typeof p !== 'string') throw new ApiError('BadRequest', 'payload_b3 must be a string');
  if (!PAYLOAD_B3_RE.test(p)) {
    throw new ApiError('BadRequest', 'payload_b3 must match ^b3:[A-Za-z0-9_+/=-]{1,128}$', {
      hint: 'prefix the payload hash with "b3:"',
    });
  }
  // Missing signatures = none: the quorum check answers (412, or signed by the dev key in dev mode).
  return { payload_b3: p, signatures: parseSignatures(body.signatures, 'signatures', MAX_SIGNATURES) };
}
