import {
  ConfigError,
  buildInfo,
  closeWithGrace,
  listen,
  parseAddr,
  setLogLevel,
  type Logger,
} from '@ron/kernel';
import type { SecureContextOptions } from 'node:tls';
import { httpsFactory, readTls, swapTls, tlsFiles, type TlsFiles } from './tls.js';
import type { FastifyInstance } from 'fastify';
import { fileURLToPath } from 'node:url';
import { createAdmin } from './admin.js';
import { NodeBus, type NodeEventBody } from './bus.js';
import {
  loadMacronodeConfig,
  schema,
  testFault,
  validate,
  type LoadInput,
  type Loaded,
  type MacronodeConfig,
} from './config.js';
import type { RouteEntry, RouteTable } from './gateway.js';
import { MacronodeMetrics } from './metrics.js';
import { PLANE_NAMES } from './planes/names.js';
import { ensureSignerKey } from './planes/signer-key.js';
import { PLANES } from './planes/table.js';
import { effectiveAfterReload, planReload } from './reload.js';
import { Supervisor, type PlaneStatus } from './supervisor/supervisor.js';

const RUNNER = fileURLToPath(new URL('./planes/runner.js', import.meta.url));

export interface ReadyReport {
  ready: boolean;
  deps: Record<string, boolean>;
  reasons: Record<string, string>;
  mode: 'truthful' | 'dev-forced';
  retryAfter: number;
}

/** One key a reload would change (`?dry_run=1`); secrets shown as `***`. */
export interface ConfigChange {
  key: string;
  from: unknown;
  to: unknown;
  source: string;
}

export interface ReloadBody {
  version: number;
  applied: string[];
  restarted: string[];
  restart_required: string[];
  /** Live keys a partial file sends back to their default (present only when there are some). */
  warnings?: string[];
  /** `?dry_run=1` only: nothing was changed; `changes` is the diff a reload would apply. */
  dry_run?: true;
  changes?: ConfigChange[];
}

export type ReloadResult = { ok: true; body: ReloadBody } | { ok: false; message: string };

export interface MacronodeOptions {
  loaded: Loaded;
  /** How the config was loaded, re-run on reload (file re-read, same env and flags). */
  input: LoadInput;
  logger: Logger;
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
export class Macronode {
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
  #shuttingDown = false;
  #reloading: Promise<ReloadResult> | undefined;
  /** Called by POST /api/v1/shutdown; set by main to the process's shutdown. */
  requestShutdown: () => void = () => undefined;

  constructor(o: MacronodeOptions) {
    this.#loaded = o.loaded;
    this.#cfg = o.loaded.config;
    this.#input = o.input;
    this.log = o.logger;
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
      const key = ensureSignerKey(c);
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
    for (const mod of Object.values(PLANES)) {
      for (const p of mod.prefixes) {
        prefixes[p] = mod.name;
        if (mod.bodyCap !== undefined) bodyCaps[p] = mod.bodyCap(c);
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

  readiness(): ReadyReport {
    const deps: Record<string, boolean> = {
      config: true,
      network: this.#adminUrl !== undefined && this.#gatewayUrl !== undefined,
      gateway: false,
    };
    const reasons: Record<string, string> = {
      config: 'ok',
      network: deps.network ? 'ok' : 'listeners not bound',
    };
    let ready = deps.network!;
    let retryAfter = Infinity;
    for (const name of this.supervisor.names()) {
      const ok = this.supervisor.state(name) === 'running';
      deps[name] = ok;
      reasons[name] = this.supervisor.reason(name);
      if (!ok && this.supervisor.critical(name)) {
        ready = false;
        retryAfter = Math.min(retryAfter, this.supervisor.retryAfter(name));
      }
    }
    if (this.#shuttingDown) {
      reasons.shutdown = 'shutting down';
      ready = false;
    }
    const forced = this.#cfg.dev_ready;
    return {
      ready: this.#shuttingDown ? false : forced || ready,
      deps,
      reasons,
      mode: forced ? 'dev-forced' : 'truthful',
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
    const run = prev.then(() => this.#reload(source, dryRun));
    this.#reloading = run;
    return run;
  }

  #reject(at: string, source: string, message: string, dryRun: boolean): ReloadResult {
    if (!dryRun) {
      this.#lastReload = { at, source, ok: false, version: this.#version, error: message };
      this.log.error(
        { event: 'reload_rejected', source },
        `reload rejected, old config keeps running: ${message}`,
      );
    }
    return { ok: false, message };
  }

  /**
   * Judges a new config against what is actually running (SPEC §4.6): the config that would run
   * after the reload (restart-required keys keep their running values, e.g. the admin listener)
   * must pass the rules `run` applies, and a file that sets nothing does not silently reset a node
   * that was configured by it. Returns the refusal, or undefined.
   */
  #judge(next: Loaded, eff: MacronodeConfig): string | undefined {
    const problems = validate(eff);
    if (problems.length > 0)
      return `reload refused: with the listeners now running, run would refuse this config:\n${problems.map((p) => `  - ${p.key}: ${p.rule}`).join('\n')}`;
    const fromFile = (l: Loaded): number => Object.values(l.sources).filter((s) => s.layer === 'file').length;
    if (next.file !== undefined && fromFile(next) === 0 && fromFile(this.#loaded) > 0)
      return `reload refused: ${next.file} sets no key (empty or half-written?) and would reset every key to its default; restart the node to run on defaults`;
    return undefined;
  }

  async #reload(source: string, dryRun: boolean): Promise<ReloadResult> {
    const at = new Date().toISOString();
    let next: Loaded;
    try {
      next = loadMacronodeConfig(this.#input);
    } catch (err) {
      const message =
        err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err);
      return this.#reject(at, source, message, dryRun);
    }
    const old = this.#cfg;
    const plan = planReload(old, next.config);
    const refusal = this.#judge(next, effectiveAfterReload(old, next.config, plan));
    if (refusal !== undefined) return this.#reject(at, source, refusal, dryRun);
    // A key the old file set and the new one no longer does falls back to its default: say so.
    const warnings = plan.applied
      .filter(
        (k) =>
          this.#loaded.sources[k as keyof typeof schema]?.layer === 'file' &&
          next.sources[k as keyof typeof schema]?.layer === 'default',
      )
      .map(
        (k) =>
          `${k} is no longer set in ${next.file ?? 'the config file'}; back to its default${k === 'admin_token' ? ' (admin POST routes accept loopback callers only)' : ''}`,
      );
    // TLS: re-read certificates (also when the paths did not change: files rotated in place) before
    // anything is applied, so an unreadable file rejects the whole reload.
    const swaps: [FastifyInstance, SecureContextOptions][] = [];
    let gatewayTls = false;
    try {
      if (this.#admin && (old['tls.admin.cert'] === '') === (next.config['tls.admin.cert'] === '')) {
        const opts = readTls(next.config, 'admin');
        if (opts !== undefined) swaps.push([this.#admin, opts]);
      }
      // The gateway plane re-reads its own files; read them here first so a bad file rejects the reload.
      if ((old['tls.gateway.cert'] === '') === (next.config['tls.gateway.cert'] === ''))
        gatewayTls = readTls(next.config, 'gateway') !== undefined;
    } catch (err) {
      return this.#reject(at, source, (err as Error).message, dryRun);
    }
    if (swaps.length > 0 && !plan.applied.some((k) => k.startsWith('tls.admin.')))
      plan.applied.push('tls.admin');
    if (gatewayTls && !plan.applied.some((k) => k.startsWith('tls.gateway.')))
      plan.applied.push('tls.gateway');
    const changed = plan.applied.length + plan.restartRequired.length + plan.restarted.length > 0;
    if (dryRun) {
      // One row per changed key with the layer it now comes from (what the console shows).
      const changes: ConfigChange[] = [];
      const o = old as Record<string, unknown>;
      const n = next.config as Record<string, unknown>;
      const sources = next.sources as Record<string, { layer: string; origin: string } | undefined>;
      for (const k of Object.keys(n)) {
        if (JSON.stringify(o[k]) === JSON.stringify(n[k])) continue;
        const secret = schema[k as keyof typeof schema].secret === true;
        const src = sources[k];
        changes.push({
          key: k,
          from: secret ? (o[k] === '' ? '' : '***') : o[k],
          to: secret ? (n[k] === '' ? '' : '***') : n[k],
          source:
            src === undefined ? 'default' : src.origin !== '' ? `${src.layer} (${src.origin})` : src.layer,
        });
      }
      const body: ReloadBody = {
        dry_run: true,
        version: changed ? this.#version + 1 : this.#version,
        applied: plan.applied,
        restarted: plan.restarted,
        restart_required: plan.restartRequired,
        changes,
        ...(warnings.length > 0 ? { warnings } : {}),
      };
      return { ok: true, body };
    }
    for (const [app, opts] of swaps) swapTls(app.server, opts);
    const eff = effectiveAfterReload(old, next.config, plan);
    for (const w of [...next.warnings, ...warnings]) this.log.warn({ event: 'config_warning' }, w);
    this.#cfg = eff;
    this.#loaded = { ...next, config: eff };
    if (changed) this.#version++;
    // Live: log level for us and every plane.
    if (old.log_level !== eff.log_level) {
      setLogLevel(this.log, eff.log_level);
      this.supervisor.broadcast({ type: 'log_level', level: eff.log_level });
    }
    for (const name of plan.disable) await this.supervisor.remove(name);
    for (const name of PLANE_NAMES) if (plan.enable.includes(name)) this.supervisor.add(name);
    for (const name of plan.restarted) await this.supervisor.restart(name);
    // The gateway learns live limits and TLS paths from its route table; then swaps certificates.
    this.#pushRoutes();
    if (gatewayTls) this.supervisor.send('gateway', { type: 'tls_reload' });
    const body: ReloadBody = {
      version: this.#version,
      applied: plan.applied,
      restarted: plan.restarted,
      restart_required: plan.restartRequired,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    this.#lastReload = { at, source, ok: true, ...body };
    this.log.info({ event: 'reload_applied', source, ...body }, `config v${this.#version} applied`);
    if (changed) this.bus.publish({ type: 'ConfigUpdated', version: this.#version });
    return { ok: true, body };
  }

  /**
   * Ordered shutdown (SPEC §4.4): readiness flips → planes stop in reverse start order, so the
   * gateway (started last) stops accepting and drains first → admin closes.
   */
  async close(): Promise<void> {
    this.#shuttingDown = true;
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
      const mod = PLANES[n]!;
      lines.push(
        `${n.padEnd(8)} ${s.url ?? '(not ready)'} pid ${s.pid ?? '-'}  try: ${mod.tryIt.replaceAll('{gateway}', g).replaceAll('{signer_key}', typeof s.info.signer_key === 'string' ? s.info.signer_key : '<key file>')}`,
      );
    }
    return lines;
  }
}
