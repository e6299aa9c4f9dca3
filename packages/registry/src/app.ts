// Builds the registry's two planes (API and admin) over an opened Registry, without binding.
import type { FastifyInstance } from 'fastify';
import {
  Readiness,
  buildInfo,
  closeWithGrace,
  createServer,
  guards,
  registerAdmin,
  registerBackupRoute,
  type BackupRouteOptions,
  type Logger,
} from '@ron/kernel';
import { BODY_CAP_HINT, apiRoutes } from './api-routes.js';
import type { AuditStatus } from './audit.js';
import type { RegistryConfig } from './config.js';
import { cors } from './cors.js';
import type { RegistryMetrics } from './metrics.js';
import type { Registry } from './registry.js';
import { StreamHub } from './stream-hub.js';
import { governanceSnapshot, registerGovernanceRoutes, type Governance } from './governance/index.js';

export type RegistryMode = 'dev' | 'dev-forced' | 'truthful';

export interface RegistryAppOptions {
  config: RegistryConfig;
  logger: Logger;
  metrics: RegistryMetrics;
  readiness: Readiness;
  registry: Registry;
  mode: RegistryMode;
  /** governance (v1 descriptor/proposal routes); absent → those routes are not served. */
  governance?: Governance;
  /** capability root key; when set, governance writes need a macaroon. */
  capRootKey?: Uint8Array;
}

export interface RegistryApp {
  readonly api: FastifyInstance;
  readonly admin: FastifyInstance;
  readonly hub: StreamHub;
  close(graceMs: number): Promise<void>;
}

export const SCHEMA_VERSION = '1.0.0';

/** The `/version` body (SPEC §2.4). */
export function versionBody(mode: RegistryMode): object {
  const b = buildInfo();
  return {
    service: 'svc-registry',
    version: b.version,
    commit: b.commit,
    built_at: b.built_at,
    schema: { registry: SCHEMA_VERSION },
    deprecations: [],
    mode,
  };
}

/** The admin plane alone (bound before the store opens, so /readyz answers during replay). */
export function createAdminApp(o: {
  logger: Logger;
  metrics: RegistryMetrics;
  readiness: Readiness;
  mode: RegistryMode;
  writeReady: () => boolean;
  degraded: () => boolean;
  /** The background audit's status (SPEC §2.5), shown as `audit`. */
  audit?: () => AuditStatus | undefined;
  /** `GET /backup` (loopback only): the store's snapshot function once it is open and on disk. */
  snapshot?: BackupRouteOptions['snapshot'];
}): FastifyInstance {
  // SPEC §1.3: svc-registry accepts and echoes x-corr-id on every response, the admin plane's too.
  const admin = createServer({
    logger: o.logger.child({ listener: 'admin' }),
    metrics: o.metrics,
    corrIdAlias: true,
  });
  const version = versionBody(o.mode);
  registerAdmin(admin, {
    readiness: o.readiness,
    metrics: o.metrics,
    version: () => version,
    readyBody: (r) => ({
      ready: r.ready,
      degraded: o.degraded(),
      services_ok: r.probes.store_open === true && r.probes.listeners_bound === true,
      queues_ok: r.probes.broadcaster_alive === true,
      write_ready: r.ready && o.writeReady(),
      mode: o.mode === 'dev' ? 'dev' : r.mode,
      ...(r.failing.length > 0 ? { failing: r.failing } : {}),
      ...auditField(o.audit?.()),
    }),
  });
  registerBackupRoute(admin, {
    metrics: o.metrics.registry,
    ...(o.snapshot !== undefined ? { snapshot: o.snapshot } : {}),
  });
  return admin;
}

function auditField(a: AuditStatus | undefined): { audit?: AuditStatus } {
  if (a === undefined) return {};
  return { audit: a.ms === undefined ? a : { ...a, ms: Math.round(a.ms) } };
}

/** The API plane and the stream hub over an opened registry. */
export function createApiApp(o: RegistryAppOptions): { api: FastifyInstance; hub: StreamHub } {
  const c = o.config;
  const hub = new StreamHub({
    registry: o.registry,
    metrics: o.metrics,
    logger: o.logger,
    heartbeatMs: c['sse.heartbeat_ms'],
    maxClients: c['sse.max_clients'],
    clientBuffer: c['sse.client_buffer'],
    clientBufferBytes: c['sse.client_buffer_bytes'],
    // `?snapshot=1` sends the current descriptors first.
    ...(o.governance !== undefined ? { snapshot: governanceSnapshot(o.governance) } : {}),
  });
  const api = createServer({
    logger: o.logger.child({ listener: 'api' }),
    metrics: o.metrics,
    bodyLimit: c['limits.max_request_bytes'],
    corrIdAlias: true,
  });
  const corsMw = cors({ origins: c['cors.allowed_origins'], permissive: c.dev });
  // Same-origin only (the default) never emits CORS headers: no per-request hook at all.
  if (c.dev || c['cors.allowed_origins'].length > 0) api.addHook('onRequest', corsMw.hook);
  // One guard per route group, built once: every write route (commit, proposals, approvals, apply)
  // shares the one `limits.max_inflight` budget, so the limit bounds the writes in flight on the
  // node, not per route family. Reads have a timeout and no in-flight budget.
  const writeGuard = guards(o.metrics, {
    bodyCap: c['limits.max_request_bytes'],
    bodyCapHint: BODY_CAP_HINT,
    concurrency: c['limits.max_inflight'],
    timeoutMs: c['timeouts.request_ms'],
  });
  const readGuard = guards(o.metrics, { timeoutMs: c['timeouts.request_ms'] });
  apiRoutes(api, {
    registry: o.registry,
    hub,
    metrics: o.metrics,
    readOnly: c.read_only,
    bodyCap: c['limits.max_request_bytes'],
    writeGuard,
    readGuard,
    corsHeaders: corsMw.headersFor,
    ...(o.capRootKey !== undefined ? { capRootKey: o.capRootKey } : {}),
    ...(o.governance !== undefined ? { governance: o.governance } : {}),
  });
  // governance v1 routes share the same guards (and so the write budget), body cap and read-only switch.
  if (o.governance !== undefined) {
    registerGovernanceRoutes(api, o.governance, {
      head: () => o.registry.head.version,
      readOnly: () => c.read_only,
      assertWritable: () => o.registry.assertWritable(),
      readGuard,
      writeGuard,
      bodyLimit: c['limits.max_request_bytes'],
      ...(o.capRootKey !== undefined ? { capRootKey: o.capRootKey } : {}),
    });
  }
  o.metrics.headVersion.set(o.registry.head.version);
  return { api, hub };
}

/** Ordered close: streams end with a final event, then the API drains, then admin. */
export async function closeApps(
  api: FastifyInstance,
  admin: FastifyInstance,
  hub: StreamHub,
  graceMs: number,
): Promise<void> {
  hub.close();
  await closeWithGrace(api, graceMs);
  await closeWithGrace(admin, graceMs);
}
