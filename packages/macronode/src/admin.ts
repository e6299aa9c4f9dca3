import {
  ApiError,
  SseStream,
  TokenBucket,
  buildInfo,
  createServer,
  guards,
  methodNotAllowed,
  registerReadyGauge,
  sendError,
} from '@ron/kernel';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerFactory,
  onRequestHookHandler,
} from 'fastify';
import { authorize } from './auth.js';
import { registerNodeBackupRoute } from './backup-route.js';
import type { AdminHost, ReadyReport } from './admin-host.js';
import { registerUiRoutes } from './ui-routes.js';

const NODE_MIN = '20.0.0';

/** A request target without its query string. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * The admin plane of SPEC §4.3. GET routes are open; POST routes need the bearer token (or, with no
 * token configured, a loopback *socket* address). Every route carries the admin rate limit; all but
 * the event stream carry the write timeout.
 */
export function createAdmin(
  node: AdminHost,
  serverFactory?: FastifyServerFactory,
): { app: FastifyInstance; metricsOnly(): FastifyInstance } {
  const cfg = node.config;
  const m = node.metrics;
  registerReadyGauge(m.http.registry, () => node.readiness().ready);
  const app = createServer({
    logger: node.log.child({ component: 'admin' }),
    metrics: m.http,
    keepAliveTimeoutMs: cfg.idle_timeout,
    requestTimeoutMs: cfg.read_timeout,
    ...(serverFactory ? { serverFactory } : {}),
  });
  // Admin POSTs carry no meaningful body; accept (and ignore) any small one.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, body),
  );

  const bucket = new TokenBucket({ rps: cfg['limits.admin_rps'], burst: cfg['limits.admin_burst'] });
  const limited = guards(m.http, { rateLimit: bucket, lengthRequired: false, timeoutMs: cfg.write_timeout });
  const limitedStream = guards(m.http, { rateLimit: bucket, lengthRequired: false });

  const auth: onRequestHookHandler = (req, reply, done) => {
    const c = node.config;
    const d = authorize({
      token: c.admin_token,
      insecure: c.dev_insecure,
      authorization: req.headers.authorization,
      socketAddress: req.socket.remoteAddress,
    });
    // The path only: a query string may carry a secret (a token pasted into a URL) and never reaches the log.
    const path = pathOf(req.url);
    if (d.ok) {
      if (d.warn) req.log.warn({ peer: req.socket.remoteAddress, path }, d.warn);
      return done();
    }
    m.http.rejection('auth').inc();
    req.log.warn({ peer: req.socket.remoteAddress, path, status: d.status }, 'admin request refused');
    if (d.status === 401) {
      sendError(
        req,
        reply,
        new ApiError('Unauthorized', d.message, {
          headers: { 'www-authenticate': 'Bearer realm="macronode"' },
        }),
      );
    } else {
      sendError(
        req,
        reply,
        new ApiError('Forbidden', d.message, {
          hint: 'call from loopback or set admin_token and send Authorization: Bearer <token>',
        }),
      );
    }
  };

  const health = (_req: FastifyRequest, reply: FastifyReply): void => {
    const clockOk = Date.now() > Date.UTC(2024, 0, 1);
    void reply.send({ ok: true, checks: { event_loop: 'ok', clock: clockOk ? 'ok' : 'skewed' } });
  };
  app.get('/healthz', { onRequest: limited }, health);
  app.get('/livez', { onRequest: limited }, health);

  const verboseText = (names: string[], r: ReadyReport): string => {
    const lines = names.map((n) =>
      r.deps[n] ? `[+]${n} ok` : `[-]${n} failed: ${r.reasons[n] ?? 'not ready'}`,
    );
    if (r.reasons.shutdown) lines.push('[-]shutdown failed: shutting down');
    lines.push(r.ready ? 'readyz check passed' : 'readyz check failed');
    return `${lines.join('\n')}\n`;
  };

  app.get('/readyz', { onRequest: limited }, (req, reply) => {
    const r = node.readiness();
    if (!r.ready) reply.code(503).header('retry-after', String(r.retryAfter));
    if ('verbose' in (req.query as Record<string, unknown>)) {
      return reply.type('text/plain; charset=utf-8').send(verboseText(Object.keys(r.deps), r));
    }
    return reply.send({ ready: r.ready, deps: r.deps, mode: r.mode });
  });
  app.get<{ Params: { plane: string } }>('/readyz/:plane', { onRequest: limited }, (req, reply) => {
    const r = node.readiness();
    const p = req.params.plane;
    if (!(p in r.deps))
      return sendError(req, reply, new ApiError('NotFound', `no readiness probe named ${p}`));
    const ok = r.deps[p] === true && !r.reasons.shutdown;
    if (!ok)
      reply.code(503).header('retry-after', String(node.planes.has(p) ? node.planes.retryAfter(p) : 5));
    if ('verbose' in (req.query as Record<string, unknown>)) {
      return reply.type('text/plain; charset=utf-8').send(verboseText([p], { ...r, ready: ok }));
    }
    return reply.send({ ready: ok, plane: p, reason: r.reasons[p] ?? null, mode: r.mode });
  });

  app.get('/version', { onRequest: limited }, (_req, reply) => {
    const b = buildInfo();
    void reply.send({
      service: 'macronode',
      version: b.version,
      git_sha: b.commit,
      build_ts: b.built_at,
      node: process.version,
      node_min: NODE_MIN,
      api: { http: 'v1' },
    });
  });

  const metricsHandler = async (_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    // Planes' own series (gateway_http_*, index_*, mailbox_*) come from their processes over IPC;
    // a plane without its own series answers ''.
    const [text, ...planes] = await Promise.all([
      m.render(),
      ...node.planes.names().map((p) => node.planes.planeMetrics(p, 1000)),
    ]);
    return reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .send([text, ...planes.filter((t) => t !== '')].join('\n'));
  };
  app.get('/metrics', { onRequest: limited }, metricsHandler);

  app.get('/api/v1/status', { onRequest: limited }, (_req, reply) => {
    void reply.send(node.status());
  });

  app.get('/api/v1/events', { onRequest: limitedStream }, (req, reply) => {
    reply.hijack();
    let unsubscribe = (): unknown => undefined;
    const stream = new SseStream(reply.raw, {
      headers: { 'x-request-id': req.id },
      onOverflow: () => {
        m.lagged.inc({ service: 'admin_events' });
        unsubscribe();
        stream.end('Lagged', JSON.stringify({ reason: 'subscriber fell behind; reconnect' }));
      },
    });
    unsubscribe = node.bus.subscribe((e) => {
      stream.send(e.type, JSON.stringify(e), e.seq);
      if (e.type === 'Shutdown') {
        unsubscribe();
        setImmediate(() => stream.end());
      }
    });
    reply.raw.on('close', () => unsubscribe());
  });

  app.post('/api/v1/shutdown', { onRequest: [limited, auth] }, (req, reply) => {
    req.log.info(
      { event: 'shutdown_requested', peer: req.socket.remoteAddress },
      'shutdown requested over the admin API',
    );
    void reply.code(202).send({ accepted: true, message: 'ordered graceful shutdown started' });
    reply.raw.once('finish', () => node.requestShutdown());
  });

  app.post('/api/v1/reload', { onRequest: [limited, auth] }, async (req, reply) => {
    // `?dry_run=1`: what a reload would do (the diff), changing nothing (SPEC §4.6).
    const dry = (req.query as Record<string, unknown>).dry_run;
    const r = await node.reload('api', dry !== undefined && dry !== '0' && dry !== 'false');
    if (!r.ok)
      return sendError(
        req,
        reply,
        new ApiError('BadRequest', r.message, { hint: 'fix the config; the old one keeps running' }),
      );
    return reply.send(r.body);
  });

  app.post<{ Params: { plane: string } }>(
    '/api/v1/services/:plane/reset',
    { onRequest: [limited, auth] },
    (req, reply) => {
      const p = req.params.plane;
      const state = node.planes.reset(p);
      if (state === undefined)
        return sendError(req, reply, new ApiError('NotFound', `plane ${p} is not enabled on this node`));
      return reply.send({ plane: p, state });
    },
  );

  registerNodeBackupRoute(app, node, [limitedStream, auth]);
  // The operator console (GET /ui/) and its read-only data routes.
  registerUiRoutes(app, node, { guard: limited, streamGuard: limitedStream });

  for (const u of ['/api/v1/shutdown', '/api/v1/reload', '/api/v1/services/:plane/reset', '/api/v1/backup'])
    methodNotAllowed(app, u, ['POST']);
  for (const u of [
    '/healthz',
    '/livez',
    '/readyz',
    '/readyz/:plane',
    '/version',
    '/metrics',
    '/api/v1/status',
    '/api/v1/events',
  ])
    methodNotAllowed(app, u, ['GET']);

  return {
    app,
    metricsOnly() {
      const mapp = createServer({ logger: node.log.child({ component: 'metrics' }), metrics: m.http });
      mapp.get('/metrics', metricsHandler);
      return mapp;
    },
  };
}
