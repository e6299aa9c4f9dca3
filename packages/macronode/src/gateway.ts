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
import type { MacronodeConfig } from './config.js';
import type { MacronodeMetrics } from './metrics.js';
import { PLANES } from './planes/table.js';
import type { Supervisor } from './supervisor/supervisor.js';

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

export interface GatewayOptions {
  config: () => MacronodeConfig;
  logger: Logger;
  metrics: MacronodeMetrics;
  supervisor: Supervisor;
  /** HTTPS listener factory when TLS is configured. */
  serverFactory?: FastifyServerFactory | undefined;
}

/**
 * The gateway plane (SPEC §4.5): guards at the edge, `/ingress/ping`, and a reverse proxy by path
 * prefix to each plane's internal listener. A plane that is down answers 503 NotReady with
 * Retry-After — never a hang or a 500.
 */
export function createGateway(o: GatewayOptions): { app: FastifyInstance; close(): Promise<void> } {
  const cfg = o.config();
  const app = createServer({
    logger: o.logger.child({ component: 'gateway' }),
    metrics: o.metrics.gateway,
    keepAliveTimeoutMs: cfg.idle_timeout,
    requestTimeoutMs: cfg.read_timeout,
    maxParamLength: 2048,
    ...(o.serverFactory ? { serverFactory: o.serverFactory } : {}),
  });
  const pools = new Map<string, Pool>();
  const poolFor = (url: string): Pool => {
    let p = pools.get(url);
    if (p === undefined) {
      // A plane restarted on a new port: drop pools to URLs no plane serves any more.
      for (const [u, old] of pools) {
        if (!o.supervisor.names().some((n) => o.supervisor.url(n) === u)) {
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

  const edge = guards(o.metrics.gateway, { concurrency: cfg['limits.gateway_max_inflight'] });
  const bodyCap = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const cap = o.config()['limits.max_body_bytes'];
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > cap) {
      o.metrics.gateway.rejection('body_cap').inc();
      reply.header('connection', 'close');
      sendError(req, reply, new ApiError('PayloadTooLarge', `body of ${declared} bytes exceeds the ${cap}-byte limit`));
      return;
    }
    done();
  };

  const proxy = async (plane: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (!o.supervisor.has(plane)) {
      return sendError(req, reply, new ApiError('NotFound', `plane ${plane} is not enabled on this node`, { hint: 'add it to `services`' }));
    }
    const url = o.supervisor.url(plane);
    if (url === undefined) {
      const state = o.supervisor.state(plane) ?? 'stopped';
      return sendError(
        req,
        reply,
        new ApiError('NotReady', `plane ${plane} is not ready (${state})`, {
          hint: 'retry after the Retry-After delay; see GET /api/v1/status on the admin plane',
          headers: { 'retry-after': String(o.supervisor.retryAfter(plane)) },
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
    const timeout = o.config().write_timeout;
    // Event streams are long-lived: no body timeout (the planes send heartbeats).
    const streaming = (req.headers.accept ?? '').includes('text/event-stream') || req.url.includes('/stream');
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
          headers: { 'retry-after': String(o.supervisor.retryAfter(plane)) },
        }),
      );
    }
  };

  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
  for (const mod of Object.values(PLANES)) {
    for (const prefix of mod.prefixes) {
      for (const url of [prefix, `${prefix}/*`]) {
        app.route({
          method: [...methods],
          url,
          onRequest: [edge, bodyCap],
          handler: (req, reply) => proxy(mod.name, req, reply),
        });
      }
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
