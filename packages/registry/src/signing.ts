// Ed25519 signatures over JCS-canonical registry messages (SPEC §2.1), with node:crypto.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { canonicalJson } from './canonical.js';

export const SIGNING_DOMAIN = 'ron-registry/v1';

export type SignedOp = 'commit' | 'publish' | 'deprecate' | 'signers';

export interface Signature {
  signer_id: string;
  alg: 'ed25519';
  /** base64url (no padding) of the 64-byte signature. */
  sig: string;
}

export interface SignedFields {
  registry: string;
  op: SignedOp;
  /** The version the mutation creates (head+1 for commit). */
  version: number;
  payload_b3?: string;
  descriptor?: unknown;
  signers?: unknown;
}

/** On-disk key file (written with mode 0600). */
export interface KeyFile {
  alg: 'ed25519';
  signer_id: string;
  /** base64url of the 32-byte private seed. */
  seed: string;
}

export interface QuorumResult {
  valid: string[];
  have: number;
  need: number;
  error?: { code: 'BadSignature'; message: string };
}

const B64U_RE = /^[A-Za-z0-9_-]*$/;
const SIGNER_RE = /^ed25519:[A-Za-z0-9_-]{43}$/;

function fromB64u(s: string, bytes: number): Buffer | undefined {
  if (!B64U_RE.test(s)) return undefined;
  const buf = Buffer.from(s, 'base64url');
  if (buf.length !== bytes || buf.toString('base64url') !== s) return undefined;
  return buf;
}

/**
 * The exact bytes a signer signs: UTF-8 of JCS({domain:"ron-registry/v1", ...fields}).
 * @example signedBytes({ registry: 'default', op: 'commit', payload_b3: 'b3:SGVsbG8=', version: 1 })
 */
export function signedBytes(f: SignedFields): Buffer {
  return Buffer.from(canonicalJson({ domain: SIGNING_DOMAIN, ...f }), 'utf8');
}

/** "ed25519:" + base64url(raw 32-byte public key). */
export function signerIdFromPublicKey(raw32: Uint8Array): string {
  if (raw32.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return 'ed25519:' + Buffer.from(raw32).toString('base64url');
}

const keyCache = new Map<string, KeyObject>();

/** The public key a signer id names, or undefined when the id is malformed. */
export function publicKeyFromSignerId(id: string): KeyObject | undefined {
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  if (!SIGNER_RE.test(id)) return undefined;
  const x = id.slice('ed25519:'.length);
  if (fromB64u(x, 32) === undefined) return undefined;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    if (keyCache.size > 1024) keyCache.clear();
    keyCache.set(id, key);
    return key;
  } catch {
    return undefined;
  }
}

function rawPublicKey(priv: KeyObject): Buffer {
  const jwk = createPublicKey(priv).export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** Private key from a base64url 32-byte seed. */
export function privateKeyFromSeed(seedB64u: string): KeyObject {
  const d = fromB64u(seedB64u, 32);
  if (d === undefined) throw new TypeError('an Ed25519 seed is 32 bytes, base64url without padding');
  // JWK import needs x too: derive it from the seed via a PKCS#8 import first.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), d]);
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

/** A fresh signer key. */
export function generateKeyFile(): KeyFile {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = jwk.d ?? '';
  return { alg: 'ed25519', signer_id: signerIdFromPublicKey(rawPublicKey(privateKey)), seed };
}

const privCache = new WeakMap<KeyFile, KeyObject>();

/**
 * Signs bytes (usually from signedBytes) with a key file.
 * @example signBytes(key, signedBytes({ registry: 'default', op: 'commit', payload_b3, version: 1 }))
 */
export function signBytes(key: KeyFile, bytes: Buffer): Signature {
  let priv = privCache.get(key);
  if (priv === undefined) {
    priv = privateKeyFromSeed(key.seed);
    privCache.set(key, priv);
  }
  const sig = sign(null, bytes, priv).toString('base64url');
  return { signer_id: key.signer_id, alg: 'ed25519', sig };
}

/** True only for a well-formed Ed25519 signature by signer_id over bytes. */
export function verifySignature(s: Signature, bytes: Buffer): boolean {
  if (typeof s !== 'object' || s === null || s.alg !== 'ed25519') return false;
  if (typeof s.signer_id !== 'string' || typeof s.sig !== 'string') return false;
  const key = publicKeyFromSignerId(s.signer_id);
  if (key === undefined) return false;
  const sig = fromB64u(s.sig, 64);
  if (sig === undefined) return false;
  try {
    return verify(null, bytes, key, sig);
  } catch {
    return false;
  }
}

/**
 * Counts distinct allow-listed signers with a valid signature over bytes. Any duplicate, unknown,
 * malformed or invalid signature sets `error` (422 BadSignature); otherwise have < need means 412 NoQuorum.
 */
export function checkQuorum(
  sigs: readonly Signature[],
  bytes: Buffer,
  allow: ReadonlySet<string>,
  threshold: number,
): QuorumResult {
  return quorumOf(sigs, bytes, allow, threshold, undefined);
}

/**
 * checkQuorum, where `verified` (when set) is one of `sigs` that the caller has just verified over
 * these very bytes: it is not verified a second time (its allow-list and duplicate checks still run).
 */
export function quorumOf(
  sigs: readonly Signature[],
  bytes: Buffer,
  allow: ReadonlySet<string>,
  threshold: number,
  verified: Signature | undefined,
): QuorumResult {
  const valid: string[] = [];
  const seen = new Set<string>();
  const bad = (message: string): QuorumResult => ({
    valid,
    have: valid.length,
    need: threshold,
    error: { code: 'BadSignature', message },
  });
  for (const [i, s] of sigs.entries()) {
    const id = typeof s?.signer_id === 'string' ? s.signer_id : '';
    if (seen.has(id)) return bad(`signatures[${i}]: signer ${id} signed more than once`);
    seen.add(id);
    if (!allow.has(id)) return bad(`signatures[${i}]: signer ${id || '(none)'} is not on the allow-list`);
    if (s !== verified && !verifySignature(s, bytes))
      return bad(`signatures[${i}]: signature by ${id} does not verify`);
    valid.push(id);
  }
  return { valid, have: valid.length, need: threshold };
}
