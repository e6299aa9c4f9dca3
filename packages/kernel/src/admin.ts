import type { FastifyInstance } from 'fastify';
import type { HttpMetrics } from './metrics.js';
import type { Readiness, ReadinessReport } from './readiness.js';
import { registerReadyGauge } from './ready-gauge.js';

export interface AdminOptions {
  readiness: Readiness;
  metrics: HttpMetrics;
  /** Body of `/version` (shape per program). */
  version: () => object;
  /** Body of `/healthz`; undefined = empty body. */
  health?: () => object | undefined;
  /** Shapes the `/readyz` body from the report (shape per program). */
  readyBody: (r: ReadinessReport) => object;
  /**
   * True when `readyBody` reads nothing but the report: the rendered body is then reused until a
   * probe result changes (probes still run on every request). Leave unset when the body carries
   * other state (e.g. the registry's `degraded` / `write_ready`).
   */
  readyBodyFromReportOnly?: boolean;
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

  // Probes run on every request; the body is rendered again only when a result changed.
  let lastSignature = '';
  let lastReady = false;
  let lastText = '';
  const cache = opts.readyBodyFromReportOnly === true;
  app.get('/readyz', (_req, reply) => {
    if (!cache) {
      const r = opts.readiness.check();
      if (!r.ready) reply.code(503).header('retry-after', '5');
      void reply.send(opts.readyBody(r));
      return;
    }
    const sig = opts.readiness.signature();
    if (sig !== lastSignature) {
      const r = opts.readiness.check();
      lastText = JSON.stringify(opts.readyBody(r));
      lastReady = r.ready;
      // Keyed by what the report saw: a probe that flipped between the two reads cannot pin a stale body.
      lastSignature = opts.readiness.signatureOf(r);
    }
    if (!lastReady) reply.code(503).header('retry-after', '5');
    void reply.header('content-type', 'application/json; charset=utf-8').send(lastText);
  });

  app.get('/version', (_req, reply) => {
    void reply.send(opts.version());
  });

  registerReadyGauge(opts.metrics.registry, () => opts.readiness.check().ready);
  app.get('/metrics', async (_req, reply) => {
    const text = await opts.metrics.render();
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
}
