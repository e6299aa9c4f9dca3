import {
  ApiError,
  InflightCounter,
  apiProblem,
  createServer,
  guards,
  sendError,
  sendRawError,
  type ErrorFields,
  type HttpMetrics,
  type Logger,
  type RouteMetrics,
} from '@ron/kernel';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';

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
/**
 * Extra hop-by-hop names a message declares in its Connection header (RFC 9110 §7.6.1), or
 * undefined when it declares none beyond the usual `keep-alive` / `close`.
 */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
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

/**
 * Request headers the gateway sets or answers itself: the request id (SPEC §1.3), X-Forwarded-For,
 * and `Expect: 100-continue` (node's server already sent the 100; undici refuses to forward it —
 * curl sends it on every upload over 1 MiB).
 */
const OWN = new Set(['x-request-id', 'x-forwarded-for', 'expect']);

const SMALL_BODY = 64 * 1024;

/** The edge 413 names the setting that raises the cap. */
const BODY_CAP_HINT =
  'raise limits.max_body_bytes in the config file, or RON_MAX_BODY_BYTES (live on reload)';

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

/** The 503 for a plane that did not answer (connection refused, reset, timed out), on either proxy path. */
function unavailable(plane: string, entry: RouteEntry | undefined): ErrorFields {
  return apiProblem(
    'NotReady',
    `plane ${plane} is unavailable`,
    { 'retry-after': String(retryAfter(entry)) },
    'the plane is restarting or overloaded; retry',
  );
}

/** A mailbox receive may long-poll up to 20 s (SPEC §4.5.3) before its answer's headers. */
const LONG_POLL_MS = 20_000;
function longPollAllowance(url: string): number {
  return url.startsWith('/v1/mailbox/') && url.includes('/receive') ? LONG_POLL_MS : 0;
}

/** X-Forwarded-For for the plane: the client's chain, if any, with the peer appended. */
function forwardedFor(xff: string | string[] | undefined, peer: string): string {
  return typeof xff === 'string' && xff !== '' ? `${xff}, ${peer}` : peer;
}

/**
 * The gateway plane (SPEC §4.5): guards at the edge, `/ingress/ping`, and a reverse proxy by path
 * prefix to each plane's internal listener. A plane that is down answers 503 NotReady with
 * Retry-After — never a hang or a 500.
 */
export function createGateway(o: GatewayOptions): { app: FastifyInstance; close(): Promise<void> } {
  const log = o.logger.child({ component: 'gateway' });
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

  /**
   * The proxy's hot path, before Fastify: bodiless GET/HEAD/DELETE requests to a running plane,
   * which no edge guard but the in-flight budget can refuse (no body, no Content-Encoding). The
   * answer streams back as it arrives (one write for a one-chunk answer). Everything else returns
   * false and takes the Fastify routes below: bodies, event streams, guard rejections, 404 and 503.
   */
  const fastPath = (req: IncomingMessage, res: ServerResponse, id: string): boolean => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') return false;
    const h = req.headers;
    if (
      h['content-length'] !== undefined ||
      h['transfer-encoding'] !== undefined ||
      h['content-encoding'] !== undefined
    ) {
      return false;
    }
    const url = req.url ?? '/';
    if (url.includes('/stream') || (h.accept !== undefined && h.accept.includes('text/event-stream')))
      return false;
    const table = o.routes();
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let plane: string | undefined;
    let template = '';
    for (const prefix in table.prefixes) {
      if (path === prefix) template = prefix;
      else if (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* / */)
        template = `${prefix}/*`;
      else continue;
      plane = table.prefixes[prefix];
      break;
    }
    if (plane === undefined) return false;
    const entry = table.planes[plane];
    if (entry === undefined || entry.state !== 'running' || entry.url === null) return false;
    if (o.maxInflight > 0 && inflight.n >= o.maxInflight) return false;

    const started = performance.now();
    const rm = metricsFor(method, template);
    inflight.n++;
    let abort: ((err?: Error) => void) | undefined;
    let resume: (() => void) | undefined;
    let done = false;
    res.once('close', () => {
      inflight.n--;
      rm.status(res.statusCode).inc();
      rm.latency.observe((performance.now() - started) / 1000);
      // The client went away before the answer was complete: stop the upstream request too.
      if (!done) abort?.();
    });

    const headers: string[] = [];
    const raw = req.rawHeaders;
    const named = connectionTokens(h.connection);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i]!.toLowerCase();
      if (!HOP.has(k) && !OWN.has(k) && named?.has(k) !== true) headers.push(raw[i]!, raw[i + 1]!);
    }
    const peer = req.socket.remoteAddress ?? '';
    headers.push('x-request-id', id, 'x-forwarded-for', forwardedFor(h['x-forwarded-for'], peer));

    // A one-chunk answer is held back and sent with the headers by res.end (one write).
    let held: Buffer | undefined;
    let flowing = false;
    const timeout = table.limits.write_timeout;
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a) {
        abort = a;
      },
      onHeaders(status, rawRes, resumeFn) {
        resume = resumeFn;
        const out: string[] = [];
        let named: Set<string> | undefined;
        for (let i = 0; i + 1 < rawRes.length; i += 2) {
          const k = rawRes[i]!.toString('latin1');
          const lk = k.toLowerCase();
          if (lk === 'connection') named = connectionTokens(rawRes[i + 1]!.toString('latin1'));
          if (!HOP.has(lk) && lk !== 'x-request-id') out.push(k, rawRes[i + 1]!.toString('latin1'));
        }
        if (named !== undefined) {
          for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i]!.toLowerCase())) out.splice(i, 2);
        }
        out.push('x-request-id', id);
        // SPEC §1.3a: a 408 always closes the connection (the plane's own `Connection: close` is hop-by-hop).
        if (status === 408) out.push('connection', 'close');
        try {
          res.writeHead(status, out);
        } catch (err) {
          // An upstream header node refuses to forward: answer 502 rather than crash.
          log.warn({ plane, request_id: id, err: (err as Error).message }, 'upstream answer not forwardable');
          failWith(apiProblem('BadGateway', `plane ${plane} sent an answer that cannot be forwarded`));
          abort?.();
          return false;
        }
        return true;
      },
      onData(chunk) {
        if (!flowing && held === undefined) {
          held = chunk;
          return true;
        }
        flowing = true;
        if (held !== undefined) {
          res.write(held);
          held = undefined;
        }
        if (res.write(chunk)) return true;
        res.once('drain', () => resume?.());
        return false;
      },
      onComplete() {
        done = true;
        if (!res.writableEnded) res.end(held);
      },
      onError(err) {
        done = true;
        log.warn({ plane, request_id: id, err: err.message }, 'upstream plane unreachable');
        if (res.headersSent) {
          res.destroy(err);
          return;
        }
        failWith(unavailable(plane, o.routes().planes[plane]));
      },
    };
    const failWith = (p: ErrorFields): void => {
      if (!res.headersSent && !res.writableEnded) sendRawError(res, id, p);
    };
    poolFor(entry.url).dispatch(
      { path: url, method, headers, headersTimeout: timeout, bodyTimeout: timeout },
      handler,
    );
    return true;
  };

  const app = createServer({
    logger: log,
    metrics: o.metrics,
    keepAliveTimeoutMs: o.idleTimeoutMs,
    requestTimeoutMs: o.readTimeoutMs,
    maxParamLength: 2048,
    fastPath,
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
      if (v !== undefined && !HOP.has(k) && !OWN.has(k) && named?.has(k) !== true) headers[k] = v;
    }
    headers['x-request-id'] = req.id;
    const peer = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = forwardedFor(req.headers['x-forwarded-for'], peer);
    const hasBody = req.body !== undefined && req.body !== null;
    const timeout = table.limits.write_timeout;
    // Event streams are long-lived: no body timeout (the planes send heartbeats).
    const streaming = (req.headers.accept ?? '').includes('text/event-stream') || req.url.includes('/stream');
    try {
      const res = await poolFor(url).request({
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
        if (v !== undefined && !HOP.has(k) && k !== 'x-request-id' && namedRes?.has(k) !== true)
          reply.header(k, v);
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
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => undefined)));
      pools.clear();
    },
  };
}
