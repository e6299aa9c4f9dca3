import { apiProblem, type ErrorFields } from '@ron/kernel';

/** One routed plane as the supervisor last reported it. */
export interface RouteEntry {
  url: string | null;
  state: string;
  /** Epoch ms of the next restart attempt, if one is scheduled. */
  retry_at: number | null;
}

/** What the host pushes to the gateway over IPC on every state change (and on reload). */
export interface RouteTable {
  planes: Record<string, RouteEntry>;
  /** Path prefix → plane name, for every plane this build knows. */
  prefixes: Record<string, string>;
  limits: {
    max_body_bytes: number;
    write_timeout: number;
    /** Path prefix → its plane's own body cap (e.g. /v1/cas → storage.max_object_bytes). */
    body_caps?: Record<string, number>;
  };
}

/** Whole seconds until the next restart attempt (Retry-After), at least 1. */
export function retryAfter(e: RouteEntry | undefined): number {
  if (e?.retry_at == null) return e?.state === 'failed' ? 30 : 1;
  return Math.max(1, Math.ceil((e.retry_at - Date.now()) / 1000));
}

/** The 503 for a plane that did not answer (connection refused, reset, timed out), on either proxy path. */
export function unavailable(plane: string, entry: RouteEntry | undefined): ErrorFields {
  return apiProblem(
    'NotReady',
    `plane ${plane} is unavailable`,
    { 'retry-after': String(retryAfter(entry)) },
    'the plane is restarting or overloaded; retry',
  );
}

/** A mailbox receive may long-poll up to 20 s (SPEC §4.5.3) before its answer's headers. */
const LONG_POLL_MS = 20_000;
export function longPollAllowance(url: string): number {
  return url.startsWith('/v1/mailbox/') && url.includes('/receive') ? LONG_POLL_MS : 0;
}

/**
 * The plane and route template (`/v1/kv` or `/v1/kv/*`, never the raw path) for a request path, or
 * undefined when no plane's prefix matches.
 */
export function routeOf(table: RouteTable, path: string): { plane: string; template: string } | undefined {
  for (const prefix in table.prefixes) {
    if (path === prefix) return { plane: table.prefixes[prefix]!, template: prefix };
    if (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* / */)
      return { plane: table.prefixes[prefix]!, template: `${prefix}/*` };
  }
  return undefined;
}
