// Validation of POST /registry/commit bodies: exact shape, unknown fields rejected (400).
import { ApiError } from '@ron/kernel';
import type { CommitRequest } from './registry.js';
import type { Signature } from './signing.js';

export const PAYLOAD_B3_RE = /^b3:[A-Za-z0-9_+/=-]{1,128}$/;
const MAX_SIGNATURES = 64;

function bad(message: string, hint?: string): ApiError {
  return new ApiError('BadRequest', message, hint !== undefined ? { hint } : {});
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw bad(`unknown field ${JSON.stringify(k.slice(0, 64))} in ${where}`, `allowed: ${allowed.join(', ')}`);
}

function signature(v: unknown, i: number): Signature {
  const where = `signatures[${i}]`;
  if (!isObject(v)) throw bad(`${where} must be an object {signer_id, alg, sig}`);
  onlyKeys(v, ['signer_id', 'alg', 'sig'], where);
  for (const k of ['signer_id', 'alg', 'sig'] as const)
    if (typeof v[k] !== 'string') throw bad(`${where}.${k} must be a string`);
  // alg is checked by the verifier: a non-ed25519 signature is a bad signature (422), not bad JSON.
  return v as unknown as Signature;
}

/** Checks a parsed body; throws ApiError BadRequest naming the field and the rule. */
export function parseCommitBody(body: unknown): CommitRequest {
  if (!isObject(body)) throw bad('body must be a JSON object {"payload_b3":"b3:…","signatures":[…]}');
  onlyKeys(body, ['payload_b3', 'signatures'], 'the commit body');
  const p = body.payload_b3;
  if (typeof p !== 'string') throw bad('payload_b3 must be a string');
  if (!PAYLOAD_B3_RE.test(p)) throw bad('payload_b3 must match ^b3:[A-Za-z0-9_+/=-]{1,128}$', 'prefix the payload hash with "b3:"');
  const s = body.signatures;
  // Missing signatures = none: the quorum check answers (412, or signed by the dev key in dev mode).
  if (s === undefined) return { payload_b3: p, signatures: [] };
  if (!Array.isArray(s)) throw bad('signatures must be an array of {signer_id, alg, sig}');
  if (s.length > MAX_SIGNATURES) throw bad(`at most ${MAX_SIGNATURES} signatures are accepted`);
  return { payload_b3: p, signatures: s.map(signature) };
}
