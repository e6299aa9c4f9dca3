import type { FastifyInstance } from 'fastify';
import type { HttpMetrics } from './metrics.js';
import type { Readiness, ReadinessReport } from './readiness.js';

export interface AdminOptions {
  readiness: Readiness;
  metrics: HttpMetrics;
  /** Body of `/version` (shape per program). */
  version: () => object;
  /** Body of `/healthz`; undefined = empty body. */
  health?: () => object | undefined;
  /** Shapes the `/readyz` body from the report (shape per program). */
  readyBody: (r: ReadinessReport) => object;
}

/**
 * The admin plane of SPEC §1.1: `/healthz` (+ `/livez`), truthful `/readyz`, `/version`, `/metrics`.
 */
export function registerAdmin(app: FastifyInstance, opts: AdminOptions): void {
  const health = opts.health;
  const healthHandler = (_req: unknown, reply: import('fastify').FastifyReply): void => {
    const body = health?.();
    if (body === undefined) void reply.send();
    else void reply.send(body);
  };
  app.get('/healthz', healthHandler);
  app.get('/livez', healthHandler);

  app.get('/readyz', (_req, reply) => {
    const r = opts.readiness.check();
    if (!r.ready) reply.code(503).header('retry-after', '5');
    void reply.send(opts.readyBody(r));
  });

  app.get('/version', (_req, reply) => {
    void reply.send(opts.version());
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await opts.metrics.render();
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
}
