import type { FastifyInstance } from 'fastify';
import { resolve } from 'node:path';
import {
  ApiError,
  Readiness,
  buildInfo,
  closeWithGrace,
  createServer,
  registerAdmin,
  registerBackupRoute,
  type Logger,
} from '@ron/kernel';
import { CasStore } from './cas-store.js';
import type { StorageConfig } from './config.js';
import { BackgroundGc } from './background-gc.js';
import { StorageMetrics } from './metrics.js';
import { casRoutes } from './routes.js';

export interface StorageNode {
  readonly app: FastifyInstance;
  readonly metrics: StorageMetrics;
  readonly readiness: Readiness;
  /** Opens the store (sweeping interrupted uploads) and starts the GC; readiness turns true after. */
  openStore(): CasStore;
  markListening(): void;
  /** Ordered close: stop accepting, drain in flight within `graceMs`, stop the GC, close the store. */
  close(graceMs: number): Promise<void>;
}

export interface StorageNodeOptions {
  config: StorageConfig;
  logger: Logger;
  defaultCollectors?: boolean;
}

/** Builds svc-storage's app without binding or opening anything. */
export function createStorageNode(opts: StorageNodeOptions): StorageNode {
  const { config: c, logger } = opts;
  const metrics = new StorageMetrics({ defaultCollectors: opts.defaultCollectors ?? true });
  const readiness = new Readiness({ devForced: c.dev_ready });
  const setListening = readiness.flag('listeners_bound');
  let store: CasStore | undefined;
  let gc: BackgroundGc | undefined;
  readiness.probe('store_open', () => store?.isOpen() ?? false);
  readiness.probe('data_dir_writable', () => store?.writable() ?? false);
  metrics.setTotals(() => (store?.isOpen() ? store.totals() : undefined));

  const app = createServer({
    logger,
    metrics,
    maxParamLength: 512,
    requestTimeoutMs: c['limits.request_timeout'] + 5000,
  });
  const b = buildInfo();
  const version = { service: 'svc-storage', version: b.version, commit: b.commit, built_at: b.built_at };
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
  registerBackupRoute(app, {
    metrics: metrics.registry,
    snapshot: () => {
      const s = store;
      if (s === undefined || !s.isOpen()) return undefined;
      return async (dest: string) => ({ program: 'svc-storage', ...(await s.snapshot(dest)) });
    },
  });
  const storeOrThrow = (): CasStore => {
    if (store === undefined || !store.isOpen())
      throw new ApiError('NotReady', 'the store is not open', { hint: 'check /readyz; retry shortly' });
    return store;
  };
  void app.register((scope, _o, done) => {
    casRoutes(scope, {
      store: storeOrThrow,
      metrics,
      logger,
      maxObjectBytes: c['storage.max_object_bytes'],
      maxInflight: c['limits.max_inflight'],
      timeoutMs: c['limits.request_timeout'],
      onDelete: () => gc?.soon(),
    });
    done();
  });

  return {
    app,
    metrics,
    readiness,
    openStore() {
      store = new CasStore({
        dir: resolve(c.data_dir),
        maxObjectBytes: c['storage.max_object_bytes'],
        maxBytes: c['storage.max_bytes'],
        gcBatch: c['gc.batch'],
      });
      gc = new BackgroundGc(store, { intervalMs: c['gc.interval'], metrics, logger });
      gc.start();
      return store;
    },
    markListening() {
      setListening(true);
    },
    async close(graceMs) {
      await closeWithGrace(app, graceMs);
      await gc?.stop();
      store?.close();
    },
  };
}
