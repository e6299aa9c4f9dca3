import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyServerFactory,
  type FastifyServerOptions,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
  type onResponseHookHandler,
} from 'fastify';
import type { Logger } from 'pino';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { Connections } from './connections.js';
import { ApiError, codeForStatus } from './errors.js';
import type { HttpMetrics, RouteMetrics } from './metrics.js';
import { isValidRequestId, ulid } from './request-id.js';
import { sendError } from './reply.js';
import { LazyChildLogger } from './logger.js';
import { pinTickObjectShape } from './internal/tick-shape.js';

export interface ServerOptions {
  logger: Logger;
  metrics: HttpMetrics;
  /** Default body limit for JSON routes (bytes). */
  bodyLimit?: number;
  /** Also accept and echo `x-corr-id` as an alias of `x-request-id` (svc-registry). */
  corrIdAlias?: boolean;
  /** Longest URL path parameter accepted (find-my-way default is 100). */
  maxParamLength?: number;
  /** Idle keep-alive timeout (ms). */
  keepAliveTimeoutMs?: number;
  /** Node's request timeout: upper bound for receiving a whole request (ms). */
  requestTimeoutMs?: number;
  /** While draining, a keep-alive connection silent this long is closed (ms, default 250; SPEC §1.3a). */
  drainIdleMs?: number;
  /** Custom node server (e.g. an https.Server for TLS listeners). */
  serverFactory?: FastifyServerFactory;
  /**
   * Answers a request before Fastify routes it (a proxy's hot path). Called with the request id
   * already chosen (SPEC §1.3: the client's when valid, else a fresh ULID); the handler must echo it.
   * Returns false to hand the request to Fastify, which then keeps the same id. Never called once
   * the server is closing: those requests get the closing answer below.
   */
  fastPath?: (req: IncomingMessage, res: ServerResponse, requestId: string) => boolean;
}

const kRequestId = Symbol('ron.requestId');
type RawRequest = IncomingMessage & { [kRequestId]?: string };

const kRouteMetrics = Symbol('ron.routeMetrics');
interface MetricsConfig {
  [kRouteMetrics]?: Map<string, RouteMetrics>;
}

/** Maps Fastify's own errors (parser, validation, limits) onto the envelope. */
function toApiError(err: FastifyError): ApiError {
  if (err instanceof ApiError) return err;
  if (err.validation) return new ApiError('BadRequest', `invalid request: ${err.message}`);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PayloadTooLarge', 'request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UnsupportedMediaType', 'unsupported Content-Type for this route', {
        hint: 'send application/json',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('BadRequest', 'empty JSON body');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('BadRequest', 'body length does not match Content-Length');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('BadRequest', 'malformed JSON body');
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // JSON.parse messages name the position only; never a path or stack.
    const msg = err instanceof SyntaxError ? `malformed JSON body: ${err.message}` : err.message;
    return new ApiError(codeForStatus(status), msg);
  }
  return new ApiError('Internal', 'internal error', { hint: 'see the server log for this request id' });
}

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type Builder = (externalSchemas: unknown, options: unknown) => unknown;
// Resolved from Fastify's own location: these are Fastify's dependencies, not ours.
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
let validatorBuilder: Builder | undefined;
let serializerBuilder: Builder | undefined;
/**
 * Fastify loads Ajv and fast-json-stringify when an instance is built (~80 ms of every process's
 * cold start, measured), whether or not a route declares a schema. Ours mostly do not: these
 * builders load Fastify's default compilers the first time a route schema is compiled, with the
 * same options Fastify would pass them.
 */
const lazyCompilers = {
  buildValidator: (schemas: unknown, options: unknown) => {
    validatorBuilder ??= (fastifyRequire('@fastify/ajv-compiler') as () => Builder)();
    return validatorBuilder(schemas, options);
  },
  buildSerializer: (schemas: unknown, options: unknown) => {
    serializerBuilder ??= (fastifyRequire('@fastify/fast-json-stringify-compiler') as () => Builder)();
    return serializerBuilder(schemas, options);
  },
} as unknown as CompilersFactory;

/**
 * A Fastify instance with the shared contracts wired: request ids (§1.3), the error envelope for
 * every error path (§1.2), per-route HTTP metrics with route templates (§1.5), quiet request logging.
 */
export function createServer(opts: ServerOptions): FastifyInstance {
  pinTickObjectShape();
  const { metrics } = opts;
  const corr = opts.corrIdAlias ?? false;
  // pino's Logger is wider than Fastify's base type; widen explicitly so the instance type stays default.
  const baseLogger: FastifyBaseLogger = opts.logger;
  const unmatched = new Map<string, RouteMetrics>();
  const unmatchedFor = (method: string): RouteMetrics => {
    let rm = unmatched.get(method);
    if (!rm) {
      rm = metrics.route(method, 'unmatched');
      unmatched.set(method, rm);
    }
    return rm;
  };
  const requestIdOf = (raw: IncomingMessage): string => {
    const h = raw.headers['x-request-id'] ?? (corr ? raw.headers['x-corr-id'] : undefined);
    return isValidRequestId(h) ? h : ulid();
  };
  // SPEC §1.3a: requests on one connection in order, refusals counted and answered in order, drain.
  const conns = new Connections({
    onRefused: (r) => {
      metrics.refused(r.status).inc();
      metrics.rejection(r.reason).inc();
    },
    ...(opts.drainIdleMs !== undefined ? { drainIdleMs: opts.drainIdleMs } : {}),
  });
  const fast = opts.fastPath;
  const userFactory = opts.serverFactory;
  const keepAliveTimeout = opts.keepAliveTimeoutMs ?? 72_000;
  const requestTimeout = opts.requestTimeoutMs ?? 60_000;
  // Always our own server, so every listener gets the connection rules; Fastify does not apply its
  // timeouts to a server it did not create, so they are set here. Node checks its request timeout
  // every `connectionsCheckingInterval` (30 s by default): a tenth of the timeout keeps a 408 timely.
  const checkEvery = Math.max(100, Math.min(30_000, Math.floor(requestTimeout / 10)));
  const serverFactory: FastifyServerFactory = (handler, fopts) => {
    const h =
      fast === undefined
        ? handler
        : (req: RawRequest, res: ServerResponse): void => {
            // Never once draining: those requests get the closing answer of the onRequest hook.
            if (!conns.draining) {
              const id = requestIdOf(req);
              if (fast(req, res, id)) return;
              req[kRequestId] = id;
            }
            handler(req, res);
          };
    const ordered = conns.ordered(h);
    const server = userFactory
      ? userFactory(ordered, fopts)
      : createHttpServer({ requestTimeout, connectionsCheckingInterval: checkEvery }, ordered);
    server.keepAliveTimeout = keepAliveTimeout;
    server.requestTimeout = requestTimeout;
    conns.attach(server);
    return server;
  };
  const app = Fastify({
    loggerInstance: baseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    keepAliveTimeout,
    // Last-resort bound on receiving a whole request, for routes without a timeout guard (a client
    // trickling headers or a body to a 404 must not hold a connection forever). Not the response.
    requestTimeout,
    // Our own closing answer below carries the envelope and Retry-After (Fastify's does not).
    return503OnClosing: false,
    routerOptions: { maxParamLength: opts.maxParamLength ?? 200 },
    // SPEC §1.2: unknown fields on write bodies are rejected (400), never silently stripped.
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: lazyCompilers },
    // Fastify then calls server.closeIdleConnections(), which Connections turns into its drain.
    forceCloseConnections: 'idle',
    serverFactory,
    genReqId(raw) {
      return (raw as RawRequest)[kRequestId] ?? requestIdOf(raw);
    },
    // Bad percent-encoding and over-long params are answered by the router before any hook runs:
    // route them through the envelope too (otherwise Fastify writes its own JSON shape).
    frameworkErrors(err, req, reply) {
      reply.header('x-request-id', req.id);
      if (corr) reply.header('x-corr-id', req.id);
      const api =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('BadRequest', 'a path segment exceeds the maximum length')
          : new ApiError('BadRequest', 'malformed URL (invalid percent-encoding)');
      sendError(req, reply, api);
      unmatchedFor(req.method).status(api.status).inc();
    },
    clientErrorHandler: (err, socket) => conns.refuse(err, socket),
  });
  // Per-request loggers are built lazily: a pino child per request is the largest avoidable cost
  // on a hot route, and most requests never log a line.
  app.setChildLoggerFactory(
    (logger, bindings, childOpts) => new LazyChildLogger(logger as Logger, bindings, childOpts),
  );

  // Prewarm per-route series as routes are declared, and cache their label children. Per-route metrics: each route gets its own onResponse hook holding its cached label children,
  // so the request path does no lookups (request.routeOptions builds a new object on every read).
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = (route.config ?? {}) as MetricsConfig;
    const perMethod = config[kRouteMetrics] ?? new Map<string, RouteMetrics>();
    for (const m of methods) {
      const rm = metrics.route(m, route.url);
      rm.status(m === 'POST' ? 201 : 200);
      perMethod.set(m, rm);
    }
    route.config = { ...config, [kRouteMetrics]: perMethod };
    const url = route.url;
    const single = methods.length === 1 ? perMethod.get(methods[0]!) : undefined;
    const observe: onResponseHookHandler = (req, reply, done) => {
      let rm = single !== undefined && req.method === single.method ? single : perMethod.get(req.method);
      if (rm === undefined) {
        // e.g. the HEAD route Fastify derives from a GET route shares this hook.
        rm = metrics.route(req.method, url);
        perMethod.set(req.method, rm);
      }
      rm.status(reply.statusCode).inc();
      rm.latency.observe(reply.elapsedTime / 1000);
      done();
    };
    const existing = route.onResponse;
    route.onResponse =
      existing === undefined ? [observe] : [...(Array.isArray(existing) ? existing : [existing]), observe];
  });
  unmatchedFor('GET').status(404);

  // SPEC §1.7 / §1.3a: once close() starts, requests still arriving on open keep-alive connections
  // get a 503 NotReady envelope with Retry-After and `Connection: close` (but for an answer followed
  // by an already read request); in-flight ones finish.
  app.addHook('preClose', (done) => {
    conns.drain();
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (corr) reply.header('x-corr-id', req.id);
    if (conns.draining) {
      // Fastify marks every answer it routes while closing `Connection: close`; one followed by an
      // already read request on its connection keeps it open for that request's answer.
      if (conns.followed(reply.raw)) reply.header('connection', 'keep-alive');
      sendError(
        req,
        reply,
        new ApiError('NotReady', 'the server is shutting down', { hint: 'retry against another instance' }),
      );
      return;
    }
    done();
  });

  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    sendError(
      req,
      reply,
      new ApiError('NotFound', `no route for ${req.method} ${req.url.split('?')[0] ?? ''}`),
    );
    const rm = unmatchedFor(req.method);
    rm.status(404).inc();
    rm.latency.observe(reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const api = toApiError(err);
    if (api.status >= 500) req.log.error({ err }, 'unhandled error in request');
    else req.log.debug({ code: api.code }, api.message);
    if (reply.sent) return;
    sendError(req, reply, api);
  });

  return app;
}

/** Registers 405 answers (with `Allow`) for the methods a path does not serve. */
export function methodNotAllowed(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const all = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const allow = allowed.join(', ');
  const others = all.filter((m) => !allowed.includes(m) && !(m === 'HEAD' && allowed.includes('GET')));
  app.route({
    method: others,
    url,
    handler(req, reply) {
      sendError(
        req,
        reply,
        new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${url}`, { headers: { allow } }),
      );
    },
  });
}
