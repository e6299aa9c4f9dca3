import {
  ApiError,
  createServer,
  guards,
  sendError,
  type Logger,
} from '@ron/kernel';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { HttpMetrics } from '@ron/kernel';

// Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded in either direction.
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

const SMALL_BODY = 64 * 1024;

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
  limits: { max_body_bytes: number; write_timeout: number };
}

export interface GatewayOptions {
  logger: Logger;
  metrics: HttpMetrics;
  routes: () => RouteTable;
  idleTimeoutMs: number;
  readTimeoutMs: number;
  maxInflight: number;
  /** HTTPS listener factory when TLS is configured. */
  serverFactory?: FastifyServerFactory | undefined;
}

/** Whole seconds until the next restart attempt (Retry-After), at least 1. */
function retryAfter(e: RouteEntry | undefined): number {
  if (e?.retry_at == null) return e?.state === 'failed' ? 30 : 1;
  return Math.max(1, Math.ceil((e.retry_at - Date.now()) / 1000));
}

/**
 * The gateway plane (SPEC §4.5): guards at the edge, `/ingress/ping`, and a reverse proxy by path
 * prefix to each plane's internal listener. A plane that is down answers 503 NotReady with
 * Retry-After — never a hang or a 500.
 */
export function createGateway(o: GatewayOptions): { app: FastifyInstance; close(): Promise<void> } {
  const app = createServer({
    logger: o.logger.child({ component: 'gateway' }),
    metrics: o.metrics,
    keepAliveTimeoutMs: o.idleTimeoutMs,
    requestTimeoutMs: o.readTimeoutMs,
    maxParamLength: 2048,
    ...(o.serverFactory ? { serverFactory: o.serverFactory } : {}),
  });
  const pools = new Map<string, Pool>();
  const poolFor = (url: string): Pool => {
    let p = pools.get(url);
    if (p === undefined) {
      // A plane restarted on a new port: drop pools to URLs no plane serves any more.
      for (const [u, old] of pools) {
        if (!Object.values(o.routes().planes).some((e) => e.url === u)) {
          pools.delete(u);
          void old.close().catch(() => undefined);
        }
      }
      p = new Pool(url, { connections: 128, keepAliveTimeout: 30_000 });
      pools.set(url, p);
    }
    return p;
  };

  // The gateway never parses bodies: every content type streams through untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.get('/ingress/ping', (_req, reply) => {
    void reply.send({ ok: true, service: 'svc-gateway', profile: 'macronode' });
  });

  const edge = guards(o.metrics, { concurrency: o.maxInflight });
  const bodyCap = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const cap = o.routes().limits.max_body_bytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > cap) {
      o.metrics.rejection('body_cap').inc();
      reply.header('connection', 'close');
      sendError(req, reply, new ApiError('PayloadTooLarge', `body of ${declared} bytes exceeds the ${cap}-byte limit`));
      return;
    }
    done();
  };

  const proxy = async (plane: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const table = o.routes();
    const entry = table.planes[plane];
    if (entry === undefined) {
      return sendError(req, reply, new ApiError('NotFound', `plane ${plane} is not enabled on this node`, { hint: 'add it to `services`' }));
    }
    const url = entry.state === 'running' ? entry.url : null;
    if (url === null) {
      const state = entry.state;
      return sendError(
        req,
        reply,
        new ApiError('NotReady', `plane ${plane} is not ready (${state})`, {
          hint: 'retry after the Retry-After delay; see GET /api/v1/status on the admin plane',
          headers: { 'retry-after': String(retryAfter(table.planes[plane])) },
        }),
      );
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP.has(k)) headers[k] = v;
    }
    headers['x-request-id'] = req.id;
    const peer = req.socket.remoteAddress ?? '';
    const xff = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = typeof xff === 'string' && xff !== '' ? `${xff}, ${peer}` : peer;
    const hasBody = req.body !== undefined && req.body !== null;
    const timeout = table.limits.write_timeout;
    // Event streams are long-lived: no body timeout (the planes send heartbeats).
    const streaming = (req.headers.accept ?? '').includes('text/event-stream') || req.url.includes('/stream');
    // Fast path (bodiless, non-streaming requests: the KV GET/HEAD/DELETE hot path): a raw undici
    // dispatch that collects the answer into one buffer, without the promise + Readable machinery of
    // request(). Measured cheaper per request; everything else streams through request() below.
    if (!hasBody && !streaming) {
      return new Promise<FastifyReply>((resolve) => {
        const chunks: Buffer[] = [];
        let status = 502;
        const resHeaders: Record<string, string | string[] | undefined> = {};
        const fail = (err: Error): void => {
          req.log.warn({ plane, err: err.message }, 'upstream plane unreachable');
          resolve(
            reply.sent
              ? reply
              : sendError(
                  req,
                  reply,
                  new ApiError('NotReady', `plane ${plane} is unavailable`, {
                    hint: 'the plane is restarting or overloaded; retry',
                    headers: { 'retry-after': String(retryAfter(table.planes[plane])) },
                  }),
                ),
          );
        };
        poolFor(url).dispatch(
          { path: req.url, method: req.method, headers, headersTimeout: timeout, bodyTimeout: timeout },
          {
            onConnect() {},
            onHeaders(statusCode: number, raw: Buffer[] | string[] | null) {
              status = statusCode;
              if (raw) {
                for (let i = 0; i + 1 < raw.length; i += 2) {
                  const k = raw[i]!.toString().toLowerCase();
                  const v = raw[i + 1]!.toString();
                  const prev = resHeaders[k];
                  resHeaders[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
                }
              }
              return true;
            },
            onData(chunk: Buffer) {
              chunks.push(chunk);
              return true;
            },
            onComplete() {
              reply.code(status);
              for (const k in resHeaders) {
                const v = resHeaders[k];
                if (v !== undefined && !HOP.has(k) && k !== 'x-request-id') reply.header(k, v);
              }
              if (req.method === 'HEAD' || status === 204 || status === 304) resolve(reply.send());
              else resolve(reply.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
            },
            onError(err: Error) {
              fail(err);
            },
          },
        );
      });
    }
    try {
      const res = await poolFor(url).request({
        path: req.url,
        method: req.method,
        headers,
        body: hasBody ? (req.body as Readable) : null,
        headersTimeout: timeout,
        bodyTimeout: streaming ? 0 : timeout,
      });
      reply.code(res.statusCode);
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined && !HOP.has(k) && k !== 'x-request-id') reply.header(k, v);
      }
      if (req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304) {
        await res.body.dump();
        return reply.send();
      }
      // Small bodies are buffered (one write, cheaper than piping a stream); large ones stream.
      const len = Number(res.headers['content-length'] ?? NaN);
      if (len <= SMALL_BODY) return reply.send(Buffer.from(await res.body.arrayBuffer()));
      return reply.send(res.body);
    } catch (err) {
      req.log.warn({ plane, err: (err as Error).message }, 'upstream plane unreachable');
      if (reply.sent) return reply;
      return sendError(
        req,
        reply,
        new ApiError('NotReady', `plane ${plane} is unavailable`, {
          hint: 'the plane is restarting or overloaded; retry',
          headers: { 'retry-after': String(retryAfter(table.planes[plane])) },
        }),
      );
    }
  };

  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
  for (const [prefix, plane] of Object.entries(o.routes().prefixes)) {
    for (const url of [prefix, `${prefix}/*`]) {
      app.route({
        method: [...methods],
        url,
        onRequest: [edge, bodyCap],
        handler: (req, reply) => proxy(plane, req, reply),
      });
    }
  }

  return {
    app,
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => undefined)));
      pools.clear();
    },
  };
}
