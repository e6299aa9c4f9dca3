import {
  ApiError,
  InflightCounter,
  createServer,
  guards,
  sendError,
  type HttpMetrics,
  type Logger,
  type RouteMetrics,
} from '@ron/kernel';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import type { Readable } from 'node:stream';
import { createFastPath } from './fast-path.js';
import { connectionTokens, forwardedFor, forwardsRequestHeader, forwardsResponseHeader } from './headers.js';
import { PlanePools } from './pools.js';
import { longPollAllowance, retryAfter, unavailable, type RouteTable } from './routes.js';

export type { RouteEntry, RouteTable } from './routes.js';

const SMALL_BODY = 64 * 1024;

/** The edge 413 names the setting that raises the cap. */
const BODY_CAP_HINT =
  'raise limits.max_body_bytes in the config file, or RON_MAX_BODY_BYTES (live on reload)';

export interface GatewayOptions {
  logger: Logger;
  metrics: HttpMetrics;
  routes: () => RouteTable;
  idleTimeoutMs: number;
  readTimeoutMs: number;
  maxInflight: number;
  /** HTTPS listener factory when TLS is configured. */
  serverFactory?: FastifyServerFactory | undefined;
  /** false: every request takes the Fastify routes (the parity test compares both paths). */
  fastPath?: boolean;
}

/**
 * The gateway plane (SPEC §4.5): guards at the edge, `/ingress/ping`, and a reverse proxy by path
 * prefix to each plane's internal listener. A plane that is down answers 503 NotReady with
 * Retry-After — never a hang or a 500.
 */
export function createGateway(o: GatewayOptions): { app: FastifyInstance; close(): Promise<void> } {
  const log = o.logger.child({ component: 'gateway' });
  const pools = new PlanePools(o.routes);
  // One in-flight budget for both paths below (the edge guard's 429 Busy).
  const inflight = new InflightCounter();
  // Route metrics of the fast path, under the same templates as the Fastify routes.
  const routeMetrics = new Map<string, RouteMetrics>();
  const metricsFor = (method: string, template: string): RouteMetrics => {
    const key = `${method} ${template}`;
    let rm = routeMetrics.get(key);
    if (rm === undefined) {
      rm = o.metrics.route(method, template);
      routeMetrics.set(key, rm);
    }
    return rm;
  };

  const fastPath =
    o.fastPath === false
      ? undefined
      : createFastPath({ log, routes: o.routes, pools, inflight, maxInflight: o.maxInflight, metricsFor });

  const app = createServer({
    logger: log,
    metrics: o.metrics,
    keepAliveTimeoutMs: o.idleTimeoutMs,
    requestTimeoutMs: o.readTimeoutMs,
    maxParamLength: 2048,
    ...(fastPath ? { fastPath } : {}),
    ...(o.serverFactory ? { serverFactory: o.serverFactory } : {}),
  });

  // The gateway never parses bodies: every content type streams through untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.get('/ingress/ping', (_req, reply) => {
    void reply.send({ ok: true, service: 'svc-gateway', profile: 'macronode' });
  });

  const edge = guards(o.metrics, { concurrency: o.maxInflight, inflight });
  const bodyCap =
    (prefix: string) =>
    (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      const limits = o.routes().limits;
      const cap = limits.body_caps?.[prefix] ?? limits.max_body_bytes;
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > cap) {
        o.metrics.rejection('body_cap').inc();
        reply.header('connection', 'close');
        sendError(
          req,
          reply,
          new ApiError('PayloadTooLarge', `body of ${declared} bytes exceeds the ${cap}-byte limit`, {
            hint: BODY_CAP_HINT,
          }),
        );
        return;
      }
      done();
    };

  // Everything the fast path declines: request bodies and event streams (streamed both ways), and
  // the answers for planes that are down or unknown.
  const proxy = async (plane: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const table = o.routes();
    const entry = table.planes[plane];
    if (entry === undefined) {
      return sendError(
        req,
        reply,
        new ApiError('NotFound', `plane ${plane} is not enabled on this node`, {
          hint: 'add it to `services`',
        }),
      );
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
    const named = connectionTokens(req.headers.connection);
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && forwardsRequestHeader(k, named)) headers[k] = v;
    }
    headers['x-request-id'] = req.id;
    const peer = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = forwardedFor(req.headers['x-forwarded-for'], peer);
    const hasBody = req.body !== undefined && req.body !== null;
    const timeout = table.limits.write_timeout;
    // Event streams are long-lived: no body timeout (the planes send heartbeats).
    const streaming = (req.headers.accept ?? '').includes('text/event-stream') || req.url.includes('/stream');
    try {
      const res = await pools.get(url).request({
        path: req.url,
        method: req.method,
        headers,
        body: hasBody ? (req.body as Readable) : null,
        headersTimeout: timeout + longPollAllowance(req.url),
        bodyTimeout: streaming ? 0 : timeout,
      });
      reply.code(res.statusCode);
      // SPEC §1.3a: a 408 always closes the connection; so does an answer given before the client's
      // body was read whole (the plane stopped reading it: what is left may never come).
      if (res.statusCode === 408 || !req.raw.complete) reply.header('connection', 'close');
      const namedRes = connectionTokens(res.headers.connection);
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined && forwardsResponseHeader(k, namedRes)) reply.header(k, v);
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
      return sendError(req, reply, unavailable(plane, table.planes[plane]));
    }
  };

  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
  for (const [prefix, plane] of Object.entries(o.routes().prefixes)) {
    for (const url of [prefix, `${prefix}/*`]) {
      app.route({
        method: [...methods],
        url,
        onRequest: [edge, bodyCap(prefix)],
        handler: (req, reply) => proxy(plane, req, reply),
      });
    }
  }

  return {
    app,
    async close() {
      await pools.close();
    },
  };
}
