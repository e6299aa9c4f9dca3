import type { FastifyInstance } from 'fastify';
import { resolve } from 'node:path';
import {
  ApiError,
  Readiness,
  buildInfo,
  closeWithGrace,
  createServer,
  registerAdmin,
  type Logger,
} from '@ron/kernel';
import type { IndexConfig } from './config.js';
import { IndexStore } from './index-store.js';
import { IndexMetrics } from './metrics.js';
import { indexRoutes } from './routes.js';

export interface IndexApp {
  readonly app: FastifyInstance;
  readonly metrics: IndexMetrics;
  readonly readiness: Readiness;
  /** Opens the store; readiness turns true only after this. Throws if it cannot open. */
  open(): IndexStore;
  /** Marks the listener bound (after `listen`). */
  markListening(): void;
  /** Ordered close: stop accepting, drain in-flight requests within `graceMs`, close the store. */
  close(graceMs: number): Promise<void>;
}

export interface IndexAppOptions {
  config: IndexConfig;
  logger: Logger;
  /** Default process collectors (off when many apps share one test process). */
  defaultCollectors?: boolean;
}

/** The store path actually used: amnesia keeps an in-memory SQLite store. */
export function storePath(c: IndexConfig): string {
  return c.amnesia ? ':memory:' : resolve(c['storage.path']);
}

/** Builds the svc-index app without binding or opening anything. */
export function createIndexApp(opts: IndexAppOptions): IndexApp {
  const { config: c, logger } = opts;
  let store: IndexStore | undefined;
  const metrics = new IndexMetrics({ defaultCollectors: opts.defaultCollectors ?? true });
  const readiness = new Readiness({ devForced: c.dev_ready });
  const setListening = readiness.flag('listeners_bound');
  readiness.probe('cfg_loaded', () => true);
  const setMetrics = readiness.flag('metrics_bound');
  readiness.probe('deps_ok', () => store?.isOpen() ?? false);

  const app = createServer({ logger, metrics, bodyLimit: c['limits.max_body_bytes'], maxParamLength: 1024 });
  const b = buildInfo();
  const version = { name: 'svc-index', version: b.version, commit: b.commit, built_at_unix: b.built_at_unix };
  registerAdmin(app, {
    readiness,
    metrics,
    version: () => version,
    health: () => ({ ok: true }),
    readyBody: (r) => ({
      ready: r.ready,
      probes: r.probes,
      mode: r.mode,
      ...(r.failing.length > 0 ? { failing: r.failing } : {}),
    }),
    readyBodyFromReportOnly: true,
  });
  indexRoutes(app, {
    store: () => {
      if (store === undefined || !store.isOpen())
        throw new ApiError('NotReady', 'the index store is not open', {
          hint: 'check /readyz; retry shortly',
        });
      return store;
    },
    metrics,
    bodyCap: c['limits.max_body_bytes'],
    maxInflight: c['limits.max_inflight'],
    timeoutMs: c['limits.request_timeout'],
  });

  return {
    app,
    metrics,
    readiness,
    open() {
      store = new IndexStore(storePath(c), { historyLimit: c['index.history_limit'] });
      return store;
    },
    markListening() {
      setListening(true);
      setMetrics(true);
    },
    async close(graceMs) {
      readiness.markShuttingDown();
      await closeWithGrace(app, graceMs);
      store?.close();
    },
  };
}
