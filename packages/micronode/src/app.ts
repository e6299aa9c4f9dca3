import type { FastifyInstance } from 'fastify';
import { resolve } from 'node:path';
import {
  ApiError,
  Readiness,
  TokenBucket,
  buildInfo,
  closeWithGrace,
  createServer,
  decodeVerdict,
  mustClose,
  registerAdmin,
  registerBackupRoute,
  sendRawError,
  type Logger,
} from '@ron/kernel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { effectiveEngine, type MicronodeConfig } from './config.js';
import { initHasher } from './etag.js';
import type { KvStore } from './kv-store.js';
import { MemStore } from './mem-store.js';
import { MicronodeMetrics } from './metrics.js';
import { KV_ITEM_ROUTE, devRoutes, kvRoutes } from './routes.js';
import { SqliteStore } from './sqlite-store.js';

export interface Micronode {
  readonly app: FastifyInstance;
  readonly metrics: MicronodeMetrics;
  readonly readiness: Readiness;
  /** Opens the store; readiness turns true only after this. Throws if it cannot open. */
  openStore(): Promise<KvStore>;
  /** Marks the listener bound (after `listen`). */
  markListening(): void;
  /** Ordered close: stop accepting, drain in flight within `graceMs`, close the store. */
  close(graceMs: number): Promise<void>;
}

export interface MicronodeOptions {
  config: MicronodeConfig;
  logger: Logger;
  /** Default process collectors (off when many apps share one test process). */
  defaultCollectors?: boolean;
}

/** Builds the micronode app without binding or opening anything. */
export function createMicronode(opts: MicronodeOptions): Micronode {
  const { config: c, logger } = opts;
  const metrics = new MicronodeMetrics({ defaultCollectors: opts.defaultCollectors ?? true });
  const readiness = new Readiness({ devForced: c.dev_ready });
  const setListening = readiness.flag('listeners_bound');
  readiness.probe('cfg_loaded', () => true);
  const setMetrics = readiness.flag('metrics_bound');
  let store: KvStore | undefined;
  readiness.probe('deps_ok', () => store?.isOpen() ?? false);

  const maxParamLength = 4096;
  // The KV write route's decode guard, applied again before routing: an encoded body is the hot reject
  // of SPEC §1.4 (a client flooding gzip bodies), so it is answered without the framework. Same
  // verdict, answer, counters and route metrics as the route's own guard, which still covers
  // everything this declines (other shapes, percent-encoded paths, over-long segments).
  const putKv = metrics.route('PUT', KV_ITEM_ROUTE);
  const rejectEncodedPut = (req: IncomingMessage, res: ServerResponse, id: string): boolean => {
    if (req.method !== 'PUT' || req.headers['content-encoding'] === undefined) return false;
    const verdict = decodeVerdict(req.headers);
    const url = req.url ?? '';
    if (verdict === undefined || !url.startsWith('/v1/kv/')) return false;
    const q = url.indexOf('?');
    const rest = url.slice(7, q === -1 ? url.length : q);
    const slash = rest.indexOf('/');
    // Exactly /v1/kv/{bucket}/{key}, plain segments only.
    if (
      slash <= 0 ||
      slash === rest.length - 1 ||
      rest.includes('/', slash + 1) ||
      rest.includes('%') ||
      rest.length > maxParamLength
    ) {
      return false;
    }
    const started = performance.now();
    metrics.rejection(verdict.reason).inc();
    sendRawError(res, id, verdict.problem, mustClose(req.headers));
    putKv.status(415).inc();
    putKv.latency.observe((performance.now() - started) / 1000);
    return true;
  };
  const app = createServer({
    logger,
    metrics,
    bodyLimit: c['limits.max_body_bytes'],
    maxParamLength,
    fastPath: rejectEncodedPut,
  });
  const version = {
    name: 'micronode',
    version: buildInfo().version,
    commit: buildInfo().commit,
    built_at_unix: buildInfo().built_at_unix,
  };
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
      if (!(s instanceof SqliteStore) || !s.isOpen()) return undefined;
      return async (dest: string) => {
        await s.snapshot(dest);
        return { program: 'micronode', engine: 'sqlite' };
      };
    },
  });
  app.get('/v1/ping', (_req, reply) => reply.send({ pong: true }));

  const rps = c['rate_limit.rps'];
  const rateLimit =
    rps > 0
      ? new TokenBucket({
          rps,
          burst: c['rate_limit.burst'] || Math.ceil(rps),
          tarpitMs: c['rate_limit.tarpit_ms'],
        })
      : undefined;
  const storeOrThrow = (): KvStore => {
    if (store === undefined || !store.isOpen())
      throw new ApiError('NotReady', 'the KV store is not open', { hint: 'check /readyz; retry shortly' });
    return store;
  };
  void app.register((scope, _o, done) => {
    kvRoutes(scope, {
      store: storeOrThrow,
      metrics,
      bodyCap: c['limits.max_body_bytes'],
      maxInflight: c['limits.max_inflight'],
      timeoutMs: c['limits.request_timeout'],
      rateLimit,
    });
    done();
  });
  if (c.dev_routes) {
    devRoutes(app, {
      metrics,
      bodyCap: c['limits.max_body_bytes'],
      timeoutMs: c['limits.request_timeout'],
      rateLimit: rateLimit ?? new TokenBucket({ rps: 5, burst: 10, tarpitMs: c['rate_limit.tarpit_ms'] }),
    });
  }

  return {
    app,
    metrics,
    readiness,
    async openStore() {
      await initHasher();
      const engine = effectiveEngine(c);
      store = engine === 'mem' ? new MemStore() : new SqliteStore(resolve(c['storage.path']));
      return store;
    },
    markListening() {
      setListening(true);
      setMetrics(true);
    },
    async close(graceMs) {
      await closeWithGrace(app, graceMs);
      store?.close();
    },
  };
}
