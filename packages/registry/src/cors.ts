import type { onRequestHookHandler } from 'fastify';

export interface CorsOptions {
  /** Allowed origins; "*" allows any. Empty = same-origin only (no CORS headers). */
  origins: readonly string[];
  /** Dev mode: any origin. */
  permissive: boolean;
}

const EXPOSE = 'x-request-id, x-corr-id, retry-after';
const ALLOW_HEADERS = 'content-type, authorization, x-request-id, x-corr-id, last-event-id';
const ALLOW_METHODS = 'GET, POST, OPTIONS';

/** CORS decided once from config; per request it is one header read and a Set lookup. */
export function cors(o: CorsOptions): {
  hook: onRequestHookHandler;
  headersFor: (origin: string | undefined) => Record<string, string>;
} {
  const any = o.permissive || o.origins.includes('*');
  const allowed = new Set(o.origins);
  const headersFor = (origin: string | undefined): Record<string, string> => {
    if (origin === undefined || !(any || allowed.has(origin))) return {};
    return { 'access-control-allow-origin': origin, vary: 'origin', 'access-control-expose-headers': EXPOSE };
  };
  const hook: onRequestHookHandler = (req, reply, done) => {
    const h = headersFor(req.headers.origin);
    for (const k in h) reply.header(k, h[k]);
    if (req.method === 'OPTIONS' && h['access-control-allow-origin'] !== undefined) {
      reply.header('access-control-allow-methods', ALLOW_METHODS);
      reply.header('access-control-allow-headers', ALLOW_HEADERS);
      reply.header('access-control-max-age', '600');
    }
    done();
  };
  return { hook, headersFor };
}
