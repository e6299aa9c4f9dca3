import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Is this **socket** address loopback? 127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.x.y.z.
 * Only ever called with `req.socket.remoteAddress`; headers such as X-Forwarded-For are never consulted.
 */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (addr === undefined || addr === '') return false;
  const a = addr.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  if (isIP(v4) !== 4) return false;
  return v4.split('.')[0] === '127';
}

/** Constant-time bearer token check (hashing first hides the length too). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export type AuthDecision = { ok: true; warn?: string } | { ok: false; status: 401 | 403; message: string };

/** The admin POST rule of SPEC §4.3. */
export function authorize(opts: {
  token: string;
  insecure: boolean;
  authorization: string | undefined;
  socketAddress: string | undefined;
}): AuthDecision {
  if (opts.insecure) return { ok: true, warn: 'admin auth bypassed (MACRONODE_DEV_INSECURE=1)' };
  if (opts.token !== '') {
    return tokenMatches(opts.authorization, opts.token)
      ? { ok: true }
      : { ok: false, status: 401, message: 'a valid admin bearer token is required' };
  }
  if (isLoopbackAddress(opts.socketAddress))
    return {
      ok: true,
      warn: 'admin POST allowed without a token because the caller is on loopback; set admin_token',
    };
  return {
    ok: false,
    status: 403,
    message: 'admin POST routes accept only loopback callers when no admin_token is set',
  };
}
