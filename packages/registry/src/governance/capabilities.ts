// Capabilities for registry writes (governance and commits): macaroons with `scope = …` and `expires < RFC 3339` caveats.
import { randomBytes } from 'node:crypto';
import { ApiError } from '@ron/kernel/core';
import * as macaroon from 'macaroon';

export const CAPABILITY_SCOPES = ['registry:propose', 'registry:apply', 'registry:commit'] as const;
export type CapabilityScope = (typeof CAPABILITY_SCOPES)[number];

export interface MintOptions {
  rootKey: Uint8Array;
  /** One or more scopes granted (each a `scope = s1 s2` caveat value). */
  scopes: readonly CapabilityScope[];
  expiresAt: Date;
  location?: string;
}

/** A fresh 32-byte root key, base64url. */
export function generateRootKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Parses a root key file's content: base64url/base64 of ≥ 16 bytes, or JSON {root_key}. */
export function parseRootKey(text: string): Uint8Array {
  let s = text.trim();
  if (s.startsWith('{')) {
    const o = JSON.parse(s) as { root_key?: unknown };
    if (typeof o.root_key !== 'string') throw new TypeError('root key file JSON needs a "root_key" string');
    s = o.root_key;
  }
  const buf = Buffer.from(s, s.includes('+') || s.includes('/') ? 'base64' : 'base64url');
  if (buf.length < 16) throw new TypeError('a capability root key needs at least 16 bytes (base64url)');
  return buf;
}

/** RFC 3339 UTC without milliseconds. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Mints a bearer capability: a macaroon (v2 binary, base64url) with a scope and an expiry caveat.
 * @example mintCapability({ rootKey, scopes: ['registry:propose'], expiresAt: new Date(Date.now() + 3600e3) })
 */
export function mintCapability(o: MintOptions): string {
  const m = macaroon.newMacaroon({
    identifier: randomBytes(16).toString('base64url'),
    location: o.location ?? 'ron-registry',
    rootKey: o.rootKey,
    version: 2,
  });
  m.addFirstPartyCaveat(`scope = ${o.scopes.join(' ')}`);
  m.addFirstPartyCaveat(`expires < ${rfc3339(o.expiresAt)}`);
  return Buffer.from(m.exportBinary()).toString('base64url');
}

const SCOPE_RE = /^scope = ([a-z:_ -]+)$/;
const EXPIRES_RE = /^expires < (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))$/;

function unauthorized(message: string, need: CapabilityScope): ApiError {
  return new ApiError('Unauthorized', message, {
    headers: { 'www-authenticate': 'Bearer realm="ron-registry"' },
    hint: `mint a capability: ronctl cap mint --root-key FILE --scope ${need}`,
  });
}

/**
 * Checks `Authorization: Bearer <macaroon>` for a scope: 1. present and decodable, 2. signature
 * chain verifies under the root key, 3. every caveat understood, 4. not expired (all → else 401),
 * 5. every scope caveat grants `need` (else 403).
 */
export function checkCapability(
  header: string | undefined,
  rootKey: Uint8Array,
  need: CapabilityScope,
  now = Date.now(),
): void {
  if (header === undefined || header === '')
    throw unauthorized('this route needs a capability: Authorization: Bearer <macaroon>', need);
  // The scheme name is case-insensitive (RFC 9110 §11.1): `bearer`, `BEARER` are `Bearer`.
  const m = /^Bearer +([A-Za-z0-9_\-+/=]{1,8192})$/i.exec(header);
  if (m === null) throw unauthorized('Authorization must be "Bearer <macaroon>"', need);
  let mac: macaroon.Macaroon;
  try {
    mac = macaroon.importMacaroon(Buffer.from(m[1] as string, 'base64url'));
  } catch {
    throw unauthorized('the bearer token is not a macaroon', need);
  }
  const conditions: string[] = [];
  try {
    // Record every first-party condition; judge them after the signature chain holds.
    mac.verify(rootKey, (c) => {
      conditions.push(c);
      return null;
    });
  } catch {
    throw unauthorized('the capability does not verify under this registry’s root key', need);
  }
  let scopes: string[][] = [];
  let sawExpiry = false;
  for (const c of conditions) {
    const s = SCOPE_RE.exec(c);
    if (s !== null) {
      scopes.push((s[1] as string).split(/[ |,]+/).filter((x) => x !== ''));
      continue;
    }
    const e = EXPIRES_RE.exec(c);
    if (e !== null) {
      const t = Date.parse(e[1] as string);
      if (!Number.isFinite(t) || now >= t) throw unauthorized(`the capability expired at ${e[1]}`, need);
      sawExpiry = true;
      continue;
    }
    throw unauthorized(
      `the capability carries a caveat this registry does not understand: ${c.slice(0, 80)}`,
      need,
    );
  }
  if (!sawExpiry) throw unauthorized('the capability has no expiry caveat', need);
  if (scopes.length === 0) scopes = [[]];
  for (const granted of scopes) {
    if (!granted.includes(need)) {
      throw new ApiError('Forbidden', `the capability does not grant ${need}`, {
        hint: `mint one with --scope ${need}`,
      });
    }
  }
}
