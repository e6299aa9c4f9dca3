// Body validation shared by every write route (commit, proposals, approvals, apply), so one input
// gets one answer whatever the route: unknown fields 400 (SPEC §1.2), a malformed signature object
// 400, a well-formed signature with an algorithm other than ed25519 422 BadSignature (SPEC §2.1:
// a signature this registry cannot verify is a bad signature, like an unknown signer).
import { ApiError } from '@ron/kernel/core';
import type { Signature } from './signing.js';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws 400 BadRequest naming the first field not in `allowed` (SPEC §1.2). */
export function rejectUnknown(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new ApiError('BadRequest', `${path}: unknown field ${JSON.stringify(k.slice(0, 64))}`, {
        hint: `allowed fields: ${allowed.join(', ')}`,
      });
    }
  }
}

/**
 * One signature object `{signer_id, alg, sig}`: shape errors are 400, an unsupported `alg` is 422.
 * Cryptographic checks happen later, against the signer set in force.
 */
export function parseSignature(v: unknown, path = 'signature'): Signature {
  if (!isObject(v)) throw new ApiError('BadRequest', `${path} must be an object {signer_id, alg, sig}`);
  rejectUnknown(v, ['signer_id', 'alg', 'sig'], path);
  for (const k of ['signer_id', 'alg', 'sig'] as const) {
    if (typeof v[k] !== 'string') throw new ApiError('BadRequest', `${path}.${k} must be a string`);
  }
  if (v.alg !== 'ed25519') {
    throw new ApiError(
      'BadSignature',
      `${path}.alg ${JSON.stringify((v.alg as string).slice(0, 32))} is not supported`,
      {
        hint: 'sign with an Ed25519 key: alg "ed25519"',
      },
    );
  }
  return { signer_id: v.signer_id as string, alg: 'ed25519', sig: v.sig as string };
}

/** An optional array of signatures (absent = none), at most `max`. */
export function parseSignatures(v: unknown, path: string, max: number): Signature[] {
  if (v === undefined) return [];
  if (!Array.isArray(v))
    throw new ApiError('BadRequest', `${path} must be an array of {signer_id, alg, sig}`);
  if (v.length > max) throw new ApiError('BadRequest', `${path}: at most ${max} signatures are accepted`);
  return v.map((s, i) => parseSignature(s, `${path}[${i}]`));
}

/**
 * A body that must carry nothing (`POST /v1/registry/apply/{id}`): absent, empty or `{}`; any field
 * is 400 (SPEC §1.2 — a client sending options this route does not have must learn so).
 */
export function parseEmptyBody(v: unknown, path: string): void {
  if (v === undefined) return;
  if (!isObject(v)) throw new ApiError('BadRequest', `${path} takes no body, or an empty JSON object`);
  rejectUnknown(v, [], path);
}
