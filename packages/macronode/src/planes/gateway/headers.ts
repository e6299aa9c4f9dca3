// Which headers cross the gateway (RFC 9110 §7.6.1), for both proxy paths: one rule, used by the
// raw fast path (flat raw header lists) and the Fastify path (header objects) alike.

/** Hop-by-hop headers: never forwarded in either direction. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/**
 * Request headers the gateway sets or answers itself: the request id (SPEC §1.3), X-Forwarded-For,
 * and `Expect: 100-continue` (node's server already sent the 100; undici refuses to forward it —
 * curl sends it on every upload over 1 MiB).
 */
const OWN = new Set(['x-request-id', 'x-forwarded-for', 'expect']);

/**
 * Extra hop-by-hop names a message declares in its Connection header (RFC 9110 §7.6.1), or
 * undefined when it declares none beyond the usual `keep-alive` / `close`.
 */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let out: Set<string> | undefined;
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const raw of part.split(',')) {
      const t = raw.trim().toLowerCase();
      if (t === '' || t === 'keep-alive' || t === 'close') continue;
      (out ??= new Set()).add(t);
    }
  }
  return out;
}

/** Whether a client's request header (lower-case name) goes on to the plane. */
export function forwardsRequestHeader(name: string, named: Set<string> | undefined): boolean {
  return !HOP.has(name) && !OWN.has(name) && named?.has(name) !== true;
}

/** Whether a plane's answer header (lower-case name) goes on to the client (the id is the gateway's). */
export function forwardsResponseHeader(name: string, named: Set<string> | undefined): boolean {
  return !HOP.has(name) && name !== 'x-request-id' && named?.has(name) !== true;
}

/** X-Forwarded-For for the plane: the client's chain, if any, with the peer appended. */
export function forwardedFor(xff: string | string[] | undefined, peer: string): string {
  return typeof xff === 'string' && xff !== '' ? `${xff}, ${peer}` : peer;
}
