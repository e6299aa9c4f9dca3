import { Readiness, buildInfo, closeWithGrace, listen, parseAddr, type Logger } from '@ron/kernel';
import { httpsFactory, tlsFiles, type TlsFiles } from './tls.js';
import type { FastifyInstance } from 'fastify';
import { fileURLToPath } from 'node:url';
import { createAdmin } from './admin.js';
import type { AdminHost, AdminPlanes, ReadyReport, ReloadResult } from './admin-host.js';
import { NodeBus, type NodeEventBody } from './bus.js';
import { testFault, type LoadInput, type Loaded, type MacronodeConfig } from './config.js';
import type { RouteEntry, RouteTable } from './planes/gateway/routes.js';
import { MacronodeMetrics } from './metrics.js';
import { ownConfig, type PlaneModule } from './planes/plane.js';
import { ensureSignerKey, signerKeyPlace } from './planes/registry/signer-key.js';
import { PLANES, PLANE_NAMES, planeModule } from './planes/table.js';
import { applyReload, type ReloadHost } from './reload.js';
import { Supervisor, type PlaneStatus } from './supervisor/supervisor.js';

const RUNNER = fileURLToPath(new URL('./planes/runner.js', import.meta.url));

export interface MacronodeOptions {
  loaded: Loaded;
  /** How the config was loaded, re-run on reload (file re-read, same env and flags). */
  input: LoadInput;
  logger: Logger;
  /** What POST /api/v1/shutdown calls: the process's ordered shutdown (default: nothing). */
  onShutdownRequest?: () => void;
}

/** The console's address on an admin listener URL. */
export function consoleUrl(adminUrl: string): string {
  return `${adminUrl}/ui/`;
}

/** Context added to every node event: the plane's status and the node's readiness (the console's live data). */
export function eventDetail(node: Macronode, body: NodeEventBody): Record<string, unknown> {
  const r = node.readiness();
  const failing: Record<string, string> = {};
  for (const [k, ok] of Object.entries(r.deps)) if (!ok) failing[k] = r.reasons[k] ?? 'not ready';
  if (r.reasons.shutdown !== undefined) failing.shutdown = r.reasons.shutdown;
  const out: Record<string, unknown> = { readiness: { ready: r.ready, failing } };
  if ('service' in body) {
    const st = node.supervisor.status(body.service);
    if (st !== undefined) out.plane = st;
  }
  return out;
}

/**
 * The host: one admin plane, the gateway, and a supervisor with one child process per plane.
 * `start()` resolves once every critical plane is ready (or rejects if one fails).
 */
export class Macronode implements AdminHost {
  readonly log: Logger;
  // Every event carries the plane's status and the node's readiness, so the console re-renders from
  // the event alone (no polling).
  readonly bus = new NodeBus((b) => eventDetail(this, b));
  readonly metrics: MacronodeMetrics;
  readonly supervisor: Supervisor;
  readonly startedAt = Date.now();
  readonly #input: LoadInput;
  #cfg: MacronodeConfig;
  #loaded: Loaded;
  #version = 1;
  #lastReload: Record<string, unknown> | null = null;
  #admin: FastifyInstance | undefined;
  #metricsApp: FastifyInstance | undefined;
  #adminUrl: string | undefined;
  #gatewayUrl: string | undefined;
  #metricsUrl: string | undefined;
  /** The gateway's bound address, pinned after its first start so restarts keep the port. */
  #gatewayPinned: string | undefined;
  /** config, network and gateway first, then one probe per plane as the supervisor lists it. */
  readonly #ready: Readiness;
  readonly #planeProbes = new Set<string>();
  #reloading: Promise<ReloadResult> | undefined;
  readonly #onShutdownRequest: () => void;

  constructor(o: MacronodeOptions) {
    this.#loaded = o.loaded;
    this.#cfg = o.loaded.config;
    this.#input = o.input;
    this.log = o.logger;
    this.#onShutdownRequest = o.onShutdownRequest ?? (() => undefined);
    this.#ready = new Readiness({ devForced: this.#cfg.dev_ready })
      .probe('config', () => true)
      .probe('network', () => this.#adminUrl !== undefined && this.#gatewayUrl !== undefined)
      .probe('gateway', () => this.supervisor.state('gateway') === 'running', {
        critical: () => !this.supervisor.has('gateway') || this.supervisor.critical('gateway'),
      });
    this.metrics = new MacronodeMetrics(['gateway', ...PLANE_NAMES], (s) => this.supervisor.uptime(s));
    this.supervisor = new Supervisor({
      config: () => this.#cfg,
      logger: this.log,
      bus: this.bus,
      metrics: this.metrics,
      runner: RUNNER,
      fault: testFault(),
      onChange: () => this.#pushRoutes(),
      onSpawn: (name) => {
        if (name === 'gateway') this.#pushRoutes();
      },
      adjust: (name, options) =>
        name === 'gateway' && this.#gatewayPinned ? { ...options, addr: this.#gatewayPinned } : options,
    });
  }

  /** What a reload reads and changes (reload.ts applies it). */
  get #reloadHost(): ReloadHost {
    return {
      log: this.log,
      input: () => this.#input,
      loaded: () => this.#loaded,
      version: () => this.#version,
      adminApp: () => this.#admin,
      supervisor: this.supervisor,
      planeNames: PLANE_NAMES,
      commit: (loaded, changed) => {
        this.#cfg = loaded.config;
        this.#loaded = loaded;
        if (changed) this.#version++;
        return this.#version;
      },
      pushRoutes: () => this.#pushRoutes(),
      recordReload: (r) => {
        this.#lastReload = r;
      },
      publish: (e) => this.bus.publish(e),
    };
  }

  /** The plane controls the admin plane uses. */
  get planes(): AdminPlanes {
    return this.supervisor;
  }

  requestShutdown(): void {
    this.#onShutdownRequest();
  }

  get config(): MacronodeConfig {
    return this.#cfg;
  }

  get loaded(): Loaded {
    return this.#loaded;
  }

  /** How the config was loaded (re-run by reload and its dry run). */
  get input(): LoadInput {
    return this.#input;
  }

  get urls(): { admin: string | undefined; gateway: string | undefined; metrics: string | undefined } {
    return { admin: this.#adminUrl, gateway: this.#gatewayUrl, metrics: this.#metricsUrl };
  }

  async start(): Promise<void> {
    const c = this.#cfg;
    // 1. Admin first: truthful /readyz (503) while planes come up.
    const adminTls = httpsFactory(c, 'admin');
    // Fail fast (exit 78) on unreadable gateway TLS files; the gateway plane reads them itself.
    httpsFactory(c, 'gateway');
    const admin = createAdmin(this, adminTls);
    this.#admin = admin.app;
    this.#adminUrl = await listen(admin.app, parseAddr(c.http_addr)!, adminTls ? 'https' : 'http');
    if (c.metrics_addr !== '') {
      this.#metricsApp = admin.metricsOnly();
      this.#metricsUrl = await listen(this.#metricsApp, parseAddr(c.metrics_addr)!);
    }
    // 2. The local signer key (registry writes stay signature-gated), created on first run.
    if (c.services.includes('registry')) {
      const key = ensureSignerKey(signerKeyPlace(c['registry.signer_key'], c));
      if (key.created)
        this.log.warn(
          {
            event: 'signer_key_created',
            path: key.path,
            signer_id: key.signerId,
            threshold: c['registry.sig_threshold'],
          },
          `created the local signer key ${key.path} (threshold ${c['registry.sig_threshold']}); keep it safe — it signs registry writes`,
        );
      else
        this.log.info(
          { path: key.path ?? '(ephemeral: amnesia)', signer_id: key.signerId },
          'using the local signer key',
        );
    }
    // 3. Planes, in table order (their reverse is the shutdown order).
    for (const name of PLANE_NAMES) if (c.services.includes(name)) this.supervisor.add(name);
    // 4. The gateway plane last: it routes to planes as they come up (503 NotReady until then).
    this.supervisor.add('gateway');
    await this.supervisor.waitCriticalReady(c['supervisor.start_timeout'] + 5000);
    // After start-up (never competing with it): one warm runner for the next restart.
    this.supervisor.releasePreforked();
    this.supervisor.warmSpare();
  }

  #routeTable(): RouteTable & { tls: TlsFiles } {
    const now = Date.now();
    const planes: Record<string, RouteEntry> = {};
    for (const n of this.supervisor.names()) {
      if (n === 'gateway') continue;
      const st = this.supervisor.status(n)!;
      planes[n] = {
        url: st.url,
        state: st.state,
        retry_at: st.next_restart_in_ms !== null ? now + st.next_restart_in_ms : null,
      };
    }
    const prefixes: Record<string, string> = {};
    const c = this.#cfg;
    const bodyCaps: Record<string, number> = {};
    for (const mod of Object.values(PLANES) as PlaneModule[]) {
      for (const p of mod.prefixes) {
        prefixes[p] = mod.name;
        if (mod.bodyCap !== undefined) bodyCaps[p] = mod.bodyCap(ownConfig(mod, c), c);
      }
    }
    return {
      planes,
      prefixes,
      limits: {
        max_body_bytes: c['limits.max_body_bytes'],
        write_timeout: c.write_timeout,
        body_caps: bodyCaps,
      },
      tls: tlsFiles(c, 'gateway'),
    };
  }

  #pushRoutes(): void {
    const url = this.supervisor.url('gateway');
    if (url !== undefined) {
      this.#gatewayUrl = url;
      if (this.#gatewayPinned === undefined) {
        const u = new URL(url);
        this.#gatewayPinned = `${u.hostname}:${u.port}`;
      }
    }
    if (this.supervisor.has('gateway'))
      this.supervisor.send('gateway', { type: 'routes', table: this.#routeTable() });
  }

  /** Truthful readiness (SPEC §4.3) on the kernel's Readiness: listeners bound, every critical plane running. */
  readiness(): ReadyReport {
    const names = this.supervisor.names();
    // Planes come and go with reloads: one probe per plane the supervisor lists now.
    for (const n of names) {
      if (this.#ready.has(n)) continue;
      this.#ready.probe(n, () => this.supervisor.state(n) === 'running', {
        critical: () => this.supervisor.critical(n),
      });
      this.#planeProbes.add(n);
    }
    for (const n of this.#planeProbes) {
      if (names.includes(n)) continue;
      this.#ready.remove(n);
      this.#planeProbes.delete(n);
    }
    const r = this.#ready.check();
    const reasons: Record<string, string> = {
      config: 'ok',
      network: r.probes.network === true ? 'ok' : 'listeners not bound',
    };
    let retryAfter = Infinity;
    for (const name of names) {
      reasons[name] = this.supervisor.reason(name);
      if (r.failing.includes(name)) retryAfter = Math.min(retryAfter, this.supervisor.retryAfter(name));
    }
    if (this.#ready.shuttingDown) reasons.shutdown = 'shutting down';
    return {
      ready: r.ready,
      deps: r.probes,
      reasons,
      mode: r.mode,
      retryAfter: Number.isFinite(retryAfter) ? retryAfter : 5,
    };
  }

  status(): Record<string, unknown> {
    const services: Record<string, PlaneStatus> = {};
    for (const n of this.supervisor.names()) services[n] = this.supervisor.status(n)!;
    const r = this.readiness();
    const b = buildInfo();
    return {
      service: 'macronode',
      profile: 'macronode',
      version: b.version,
      pid: process.pid,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      addresses: {
        admin: this.#adminUrl ?? null,
        gateway: this.#gatewayUrl ?? null,
        metrics: this.#metricsUrl ?? null,
      },
      log_level: this.#cfg.log_level,
      data_dir: this.#cfg.data_dir,
      amnesia: this.#cfg.amnesia,
      readiness: { ready: r.ready, deps: r.deps, mode: r.mode, reasons: r.reasons },
      config_version: this.#version,
      spare_runner_pid: this.supervisor.sparePid,
      services,
      last_reload: this.#lastReload,
    };
  }

  /**
   * SIGHUP and POST /api/v1/reload: re-run the config pipeline, validate, diff, apply (SPEC §4.6).
   * `dryRun` answers what the reload would do and changes nothing.
   */
  reload(source: 'SIGHUP' | 'api', dryRun = false): Promise<ReloadResult> {
    // One reload at a time; a second request waits for the first and then runs.
    const prev = this.#reloading ?? Promise.resolve(undefined);
    const run = prev.then(() => applyReload(this.#reloadHost, source, dryRun));
    this.#reloading = run;
    return run;
  }

  /**
   * Ordered shutdown (SPEC §4.4): readiness flips → planes stop in reverse start order, so the
   * gateway (started last) stops accepting and drains first → admin closes.
   */
  async close(): Promise<void> {
    this.#ready.markShuttingDown();
    this.bus.publish({ type: 'Shutdown' });
    await this.supervisor.stopAll();
    this.log.info({ event: 'planes_stopped' }, 'all planes stopped');
    if (this.#metricsApp) await closeWithGrace(this.#metricsApp, 1000);
    if (this.#admin) await closeWithGrace(this.#admin, 1000);
    this.log.info({ event: 'admin_closed' }, 'admin plane closed');
  }

  /** Start-up summary: every address and how to try it. */
  tryLines(): string[] {
    const g = this.#gatewayUrl ?? '';
    const a = this.#adminUrl ?? '';
    const lines = [
      `console  ${consoleUrl(a)}  (operator console: open it in a browser)`,
      `admin    ${a}  (curl ${a}/readyz?verbose ; curl ${a}/api/v1/status)`,
      `gateway  ${g} pid ${this.supervisor.status('gateway')?.pid ?? '-'}  try: curl ${g}/ingress/ping`,
    ];
    if (this.#metricsUrl) lines.push(`metrics  ${this.#metricsUrl}/metrics`);
    for (const n of this.supervisor.names()) {
      if (n === 'gateway') continue;
      const s = this.supervisor.status(n)!;
      const mod = planeModule(n)!;
      lines.push(
        `${n.padEnd(8)} ${s.url ?? '(not ready)'} pid ${s.pid ?? '-'}  try: ${mod.tryIt.replaceAll('{gateway}', g).replaceAll('{signer_key}', typeof s.info.signer_key === 'string' ? s.info.signer_key : '<key file>')}`,
      );
    }
    return lines;
  }
}
