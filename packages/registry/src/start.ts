import { createServer as createNetServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  Readiness,
  StartupError,
  installShutdown,
  isLoopbackHost,
  listen,
  parseAddr,
  type Logger,
} from '@ron/kernel';
import { createAdminApp, createApiApp, closeApps, type RegistryMode } from './app.js';
import { isPostgresUrl, type RegistryConfig } from './config.js';
import { ChainError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import { PgStore, redactPgUrl } from './pg-store.js';
import { RegistryMetrics } from './metrics.js';
import { Registry } from './registry.js';
import { generateKeyFile, type KeyFile } from './signing.js';
import { SqliteStore } from './sqlite-store.js';
import { snapshotHead } from './snapshot.js';
import type { LogEntry } from './log-entry.js';
import type { LogStore } from './store.js';
import type { StreamHub } from './stream-hub.js';
import { readFileSync } from 'node:fs';
import {
  attachGovernance,
  governanceMetrics,
  initialSignerSet,
  parseRootKey,
  type Governance,
} from './governance/index.js';
import { LogAudit } from './audit.js';

export interface StartRegistryOptions {
  config: RegistryConfig;
  logger: Logger;
  /** Install SIGTERM/SIGINT handling (standalone program); a supervisor host handles signals itself. */
  installSignals?: boolean;
  /** Default process_/nodejs_ collectors (off when many registries share one test process). */
  defaultCollectors?: boolean;
  /** Use this store instead of the configured one (tests, embedding). */
  store?: LogStore;
}

export interface RunningRegistry {
  readonly apiUrl: string;
  readonly adminUrl: string;
  /** Unix socket URL when `bind.uds` is set. */
  readonly udsUrl: string | undefined;
  readonly registry: Registry;
  readonly metrics: RegistryMetrics;
  readonly hub: StreamHub;
  readonly readiness: Readiness;
  /** The process-held signer key in dev mode. */
  readonly devKey: KeyFile | undefined;
  /** the governance service over this registry's log. */
  readonly governance: Governance;
  /** The background signature audit (SPEC §2.5). */
  readonly audit: LogAudit;
  close(graceMs?: number): Promise<void>;
}

/** Exit code when the stored log fails verification (EX_DATAERR). */
export const EXIT_CHAIN_BROKEN = 65;
/** Exit code when the store cannot open or a listener cannot bind (EX_UNAVAILABLE). */
export const EXIT_STORE = 69;

/**
 * Binds the admin plane, opens and replays the store (verifying the chain), binds the API plane and
 * logs one ready line (`event:"ready"`, `url`, `admin_url`).
 * @example const r = await startRegistry({ config, logger }); await r.close();
 */
export async function startRegistry(opts: StartRegistryOptions): Promise<RunningRegistry> {
  const { config: c, logger: log } = opts;
  const t0 = performance.now();
  const apiTarget = parseAddr(c['bind.api'])!;
  const adminTarget = parseAddr(c['bind.admin'])!;
  const loopbackOnly =
    apiTarget.kind === 'tcp' &&
    isLoopbackHost(apiTarget.host) &&
    adminTarget.kind === 'tcp' &&
    isLoopbackHost(adminTarget.host);
  const mode: RegistryMode = c.dev ? 'dev' : c.dev_ready ? 'dev-forced' : 'truthful';
  const metrics = new RegistryMetrics({ defaultCollectors: opts.defaultCollectors ?? true });
  const readiness = new Readiness({ devForced: c.dev_ready });
  const setListening = readiness.flag('listeners_bound');
  let registry: Registry | undefined;
  // Filled in as start-up proceeds; the probes read it live.
  const parts: { hub?: StreamHub; audit?: LogAudit } = {};
  readiness.probe('store_open', () => registry?.store.isOpen() ?? false);
  readiness.probe('broadcaster_alive', () => parts.hub?.alive ?? false);

  const admin = createAdminApp({
    logger: log,
    metrics,
    readiness,
    mode,
    writeReady: () =>
      !c.read_only &&
      registry !== undefined &&
      !registry.degraded &&
      registry.writeRefusal === undefined &&
      !(registry.store instanceof PgStore && !registry.store.reachable),
    degraded: () => registry?.degraded ?? false,
    audit: () => parts.audit?.status,
    snapshot: () => {
      const s = registry?.store;
      if (!(s instanceof SqliteStore)) return undefined;
      return async (dest: string) => {
        await s.snapshot(dest);
        return { program: 'svc-registry', registry_id: c.registry_id, ...snapshotHead(dest) };
      };
    },
  });
  const adminUrl = await listen(admin, adminTarget);

  // 1. Store: dev and amnesia keep nothing on disk.
  const amnesia = c.dev || c.amnesia;
  const postgres = !amnesia && opts.store === undefined && isPostgresUrl(c.db);
  let store: LogStore;
  try {
    store =
      opts.store ??
      (amnesia ? new MemoryStore() : postgres ? await PgStore.open(c.db) : new SqliteStore(resolve(c.db)));
  } catch (err) {
    await admin.close();
    const msg = err instanceof Error ? err.message : String(err);
    const where = postgres ? redactPgUrl(c.db) : resolve(c.db);
    log.fatal({ err, db: where }, 'store cannot open');
    throw new StartupError(
      postgres
        ? `the PostgreSQL store at ${where} cannot open: ${msg}\n  check the server is up, the URL, the password and that the role may create tables`
        : `the SQLite store at ${where} cannot open: ${msg}\n  check the directory is writable, or use --amnesia`,
      EXIT_STORE,
    );
  }

  // 2. Signers: dev mode holds a generated key with threshold 1.
  let devKey: KeyFile | undefined;
  let signers = c['governance.signers'];
  let threshold = c['governance.threshold'];
  if (c.dev) {
    devKey = generateKeyFile();
    signers = [devKey.signer_id, ...signers];
    threshold = 1;
    log.warn(
      { mode: 'dev', dev_signer: devKey.signer_id, unsigned_writes: loopbackOnly, store: 'memory' },
      loopbackOnly
        ? 'DEV MODE: in-memory store, generated signer key, UNSIGNED WRITES ACCEPTED (loopback only). Never run this in production.'
        : 'DEV MODE on a non-loopback listener: unsigned writes are REFUSED; in-memory store, generated signer key.',
    );
  }

  // 3. Replay and verify the chain (and fold governance from it): any corrupt row refuses start (65).
  let governance: Governance;
  // Governance folds from the replay pass (only its own entries are kept: commits fold to nothing).
  const governed: LogEntry[] = [];
  try {
    const opened = await Registry.open(store, {
      registryId: c.registry_id,
      signers,
      threshold,
      allowUnsigned: c.dev && loopbackOnly,
      devKey,
      readCacheCap: c.read_cache_cap,
      logger: log,
      reorder: { windowMs: c['limits.reorder_window'], depth: c['limits.reorder_depth'] },
      onReorder: (result) => metrics.reorder[result].inc(),
      onReplay: (e) => {
        if (e.op !== 'commit') governed.push(e);
      },
    });
    registry = opened.registry;
    log.info(
      { entries: opened.replay.entries, head: opened.replay.head.version, ms: Math.round(opened.replay.ms) },
      'log replayed and verified',
    );
    // 3b. governance read model from the same log; optional capability root key.
    governance = await attachGovernance(registry, {
      metrics: governanceMetrics(metrics),
      proposalTtlMs: c['governance.proposal_ttl'],
      replayed: governed,
      // Dev mode's unsigned writes extend to governance proposals (loopback only, like commits).
      ...(c.dev && loopbackOnly && devKey !== undefined ? { devKey } : {}),
    });
    governed.length = 0;
  } catch (err) {
    await store.close();
    await admin.close();
    if (err instanceof ChainError) {
      log.fatal(
        { version: err.version, reason: err.reason, store: store.location },
        'registry log corrupt; refusing to start',
      );
      throw new StartupError(
        `${err.message} (store ${store.location}); refusing to start`,
        EXIT_CHAIN_BROKEN,
      );
    }
    throw err;
  }

  let capRootKey: Uint8Array | undefined;
  if (c['governance.capability_key_file'] !== '') {
    try {
      capRootKey = parseRootKey(readFileSync(c['governance.capability_key_file'], 'utf8'));
    } catch (err) {
      await store.close();
      await admin.close();
      throw new StartupError(
        `governance.capability_key_file ${c['governance.capability_key_file']} cannot be used: ${(err as Error).message}`,
        78,
      );
    }
  }

  // 4. API plane.
  const built = createApiApp({
    config: c,
    logger: log,
    metrics,
    readiness,
    registry,
    mode,
    governance,
    ...(capRootKey !== undefined ? { capRootKey } : {}),
  });
  const hub = built.hub;
  parts.hub = hub;
  const api = built.api;
  let apiUrl: string;
  let uds: Server | undefined;
  let udsUrl: string | undefined;
  try {
    apiUrl = await listen(api, apiTarget);
    if (c['bind.uds'] !== '') {
      const path = c['bind.uds'];
      rmSync(path, { force: true });
      const httpServer = api.server;
      // Same app on a second listener: hand accepted sockets to the API's HTTP server.
      uds = createNetServer((sock) => httpServer.emit('connection', sock));
      await new Promise<void>((res, rej) => {
        uds!.once('error', rej);
        uds!.listen(path, () => res());
      });
      udsUrl = `unix:${path}`;
    }
  } catch (err) {
    hub.close();
    await api.close();
    await admin.close();
    await store.close();
    throw new StartupError(
      `cannot bind the API plane on ${c['bind.api']}: ${(err as Error).message}`,
      EXIT_STORE,
    );
  }
  setListening(true);

  // 4b. PostgreSQL replicas: follow the shared log (LISTEN/NOTIFY plus a periodic catch-up query)
  // and ingest what other replicas append through the local append path (head, cache, governance,
  // streams). The head gauge follows every version, local or ingested.
  registry.onAppend((e) => metrics.headVersion.set(e.version));
  metrics.headVersion.set(registry.head.version);
  metrics.storeReachable.set(1); // embedded stores are always reachable; PostgreSQL updates it below
  if (store instanceof PgStore) {
    const pgStore = store;
    const reg0 = registry;
    pgStore.follow(() => {
      void reg0.catchUp().then((n) => {
        if (n > 0) metrics.replicated.inc(n);
        metrics.storeReachable.set(pgStore.reachable ? 1 : 0);
      });
    });
  }

  // 5. Background audit of every entry's signatures (SPEC §2.5): a worker thread, readiness not delayed.
  const reg = registry;
  const audit = new LogAudit({
    store,
    registryId: c.registry_id,
    genesis: initialSignerSet(signers, threshold),
    upTo: registry.head.version,
    logger: log.child({ component: 'audit' }),
    onFault: (f) => {
      metrics.auditFaults.inc();
      reg.refuseWrites(
        `the audit found entry ${f.version} not signed by the signer set in force (${f.reason})`,
      );
    },
  });
  parts.audit = audit;

  let closing: Promise<void> | undefined;
  const close = (graceMs = c.shutdown_grace): Promise<void> => {
    closing ??= (async () => {
      readiness.markShuttingDown();
      // Commits waiting in the reorder window get their answer now rather than at their deadline.
      registry.closeReorderWindow();
      await audit.stop();
      uds?.close();
      await closeApps(api, admin, hub, graceMs);
      await store.close();
    })();
    return closing;
  };
  if (opts.installSignals) installShutdown({ logger: log, readiness, graceMs: c.shutdown_grace, close });

  log.info(
    {
      event: 'ready',
      url: apiUrl,
      admin_url: adminUrl,
      ...(udsUrl !== undefined ? { uds_url: udsUrl } : {}),
      store: store.kind,
      db: store.kind === 'memory' ? null : store.location,
      head: registry.head.version,
      registry_id: c.registry_id,
      mode,
      read_only: c.read_only,
      startup_ms: Math.round(performance.now() - t0),
    },
    `svc-registry ready: API ${apiUrl}, admin ${adminUrl} (${store.kind}, head ${registry.head.version}); try: curl ${apiUrl}/registry/head`,
  );
  return { apiUrl, adminUrl, udsUrl, registry, metrics, hub, readiness, devKey, governance, audit, close };
}
