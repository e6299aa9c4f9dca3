import { ConfigError, setLogLevel, type Logger } from '@ron/kernel';
import type { FastifyInstance } from 'fastify';
import type { SecureContextOptions } from 'node:tls';
import type { ConfigChange, ReloadBody, ReloadResult } from './admin-host.js';
import type { NodeEventBody } from './bus.js';
import {
  loadMacronodeConfig,
  schema,
  validate,
  type LoadInput,
  type Loaded,
  type MacronodeConfig,
} from './config.js';
import type { Supervisor } from './supervisor/supervisor.js';
import { readTls, swapTls } from './tls.js';
import { childSpec, planeOptions } from './planes/plane.js';
import { planeModule } from './planes/table.js';

/** What a reload does with a new config (SPEC §4.6). */
export interface ReloadPlan {
  /** Keys applied live (log level, limits, admin token, supervisor tuning, plane enable/disable). */
  applied: string[];
  /** Planes to restart because one of their settings changed. */
  restarted: string[];
  /** Keys that need a process restart (listener addresses, TLS files, data_dir…); not applied. */
  restartRequired: string[];
  /** Planes to start / stop. */
  enable: string[];
  disable: string[];
}

// Keys that only take effect at process start; a reload reports them and keeps the old value.
const RESTART_REQUIRED = new Set([
  'http_addr',
  'gateway_addr',
  'metrics_addr',
  'read_timeout',
  'idle_timeout',
  'data_dir',
  'amnesia',
  'dev_ready',
  'dev_insecure',
  'limits.gateway_max_inflight',
  'limits.admin_rps',
  'limits.admin_burst',
  'supervisor.heartbeat_interval',
]);

/** TLS on/off or mTLS on/off needs a new listener; swapping files on a TLS listener is live. */
function tlsModeChanged(old: MacronodeConfig, next: MacronodeConfig, key: string): boolean {
  const m = /^tls\.(admin|gateway)\./.exec(key);
  if (!m) return false;
  const l = m[1] as 'admin' | 'gateway';
  return (
    (old[`tls.${l}.cert`] === '') !== (next[`tls.${l}.cert`] === '') ||
    (old[`tls.${l}.client_ca`] === '') !== (next[`tls.${l}.client_ca`] === '')
  );
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Diffs two configs: which keys change, which apply live, which planes restart. Pure; the host
 * applies the plan.
 */
export function planReload(old: MacronodeConfig, next: MacronodeConfig): ReloadPlan {
  const o = old as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  const plan: ReloadPlan = { applied: [], restarted: [], restartRequired: [], enable: [], disable: [] };
  for (const k of Object.keys(n)) {
    if (same(o[k], n[k])) continue;
    if (RESTART_REQUIRED.has(k) || tlsModeChanged(old, next, k)) plan.restartRequired.push(k);
    else plan.applied.push(k);
  }
  const effCfg = effectiveAfterReload(old, next, plan);
  plan.enable = next.services.filter((s) => !old.services.includes(s));
  plan.disable = old.services.filter((s) => !next.services.includes(s));
  // A plane whose derived options or child spec changed restarts (only that plane).
  for (const name of [...next.services, 'gateway']) {
    if (plan.enable.includes(name)) continue;
    const mod = planeModule(name);
    if (mod === undefined) continue;
    if (
      !same(planeOptions(mod, old), planeOptions(mod, effCfg)) ||
      !same(childSpec(mod, old), childSpec(mod, effCfg))
    )
      plan.restarted.push(name);
  }
  return plan;
}

/**
 * The config that actually runs after a reload: the new values, except restart-required keys keep
 * their running value.
 */
export function effectiveAfterReload(
  old: MacronodeConfig,
  next: MacronodeConfig,
  plan: ReloadPlan,
): MacronodeConfig {
  const merged: Record<string, unknown> = { ...next };
  for (const k of plan.restartRequired) merged[k] = (old as Record<string, unknown>)[k];
  return Object.freeze(merged) as MacronodeConfig;
}

/** What applying a reload reads from and changes on the host (node.ts implements it). */
export interface ReloadHost {
  readonly log: Logger;
  /** How the config was loaded (re-run: file re-read, same env and flags). */
  input(): LoadInput;
  /** The running config and where each value came from. */
  loaded(): Loaded;
  /** The running config version. */
  version(): number;
  /** The admin listener, whose certificates are swapped in place. */
  adminApp(): FastifyInstance | undefined;
  readonly supervisor: Pick<Supervisor, 'add' | 'remove' | 'restart' | 'send' | 'broadcast'>;
  /** Optional planes in start order. */
  readonly planeNames: readonly string[];
  /** Makes `loaded` the running config; bumps the version when `changed`; returns the version. */
  commit(loaded: Loaded, changed: boolean): number;
  /** Sends the gateway its route table (live limits, TLS paths). */
  pushRoutes(): void;
  recordReload(r: Record<string, unknown>): void;
  publish(e: NodeEventBody): void;
}

function reject(h: ReloadHost, at: string, source: string, message: string, dryRun: boolean): ReloadResult {
  if (!dryRun) {
    h.recordReload({ at, source, ok: false, version: h.version(), error: message });
    h.log.error(
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
function judge(h: ReloadHost, next: Loaded, eff: MacronodeConfig): string | undefined {
  const problems = validate(eff);
  if (problems.length > 0)
    return `reload refused: with the listeners now running, run would refuse this config:\n${problems.map((p) => `  - ${p.key}: ${p.rule}`).join('\n')}`;
  const fromFile = (l: Loaded): number => Object.values(l.sources).filter((s) => s.layer === 'file').length;
  if (next.file !== undefined && fromFile(next) === 0 && fromFile(h.loaded()) > 0)
    return `reload refused: ${next.file} sets no key (empty or half-written?) and would reset every key to its default; restart the node to run on defaults`;
  return undefined;
}

/**
 * SIGHUP and POST /api/v1/reload on a host: re-run the config pipeline, validate, judge, diff, then
 * apply live keys, re-read TLS files, restart exactly the planes whose options or child spec changed
 * (SPEC §4.6). `dryRun` answers what the reload would do and changes nothing.
 */
export async function applyReload(h: ReloadHost, source: string, dryRun: boolean): Promise<ReloadResult> {
  const at = new Date().toISOString();
  let next: Loaded;
  try {
    next = loadMacronodeConfig(h.input());
  } catch (err) {
    const message =
      err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err);
    return reject(h, at, source, message, dryRun);
  }
  const old = h.loaded().config;
  const plan = planReload(old, next.config);
  const refusal = judge(h, next, effectiveAfterReload(old, next.config, plan));
  if (refusal !== undefined) return reject(h, at, source, refusal, dryRun);
  // A key the old file set and the new one no longer does falls back to its default: say so.
  const warnings = plan.applied
    .filter(
      (k) =>
        h.loaded().sources[k as keyof typeof schema]?.layer === 'file' &&
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
    const admin = h.adminApp();
    if (admin && (old['tls.admin.cert'] === '') === (next.config['tls.admin.cert'] === '')) {
      const opts = readTls(next.config, 'admin');
      if (opts !== undefined) swaps.push([admin, opts]);
    }
    // The gateway plane re-reads its own files; read them here first so a bad file rejects the reload.
    if ((old['tls.gateway.cert'] === '') === (next.config['tls.gateway.cert'] === ''))
      gatewayTls = readTls(next.config, 'gateway') !== undefined;
  } catch (err) {
    return reject(h, at, source, (err as Error).message, dryRun);
  }
  if (swaps.length > 0 && !plan.applied.some((k) => k.startsWith('tls.admin.')))
    plan.applied.push('tls.admin');
  if (gatewayTls && !plan.applied.some((k) => k.startsWith('tls.gateway.'))) plan.applied.push('tls.gateway');
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
      version: changed ? h.version() + 1 : h.version(),
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
  for (const w of [...next.warnings, ...warnings]) h.log.warn({ event: 'config_warning' }, w);
  const version = h.commit({ ...next, config: eff }, changed);
  // Live: log level for us and every plane.
  if (old.log_level !== eff.log_level) {
    setLogLevel(h.log, eff.log_level);
    h.supervisor.broadcast({ type: 'log_level', level: eff.log_level });
  }
  for (const name of plan.disable) await h.supervisor.remove(name);
  for (const name of h.planeNames) if (plan.enable.includes(name)) h.supervisor.add(name);
  for (const name of plan.restarted) await h.supervisor.restart(name);
  // The gateway learns live limits and TLS paths from its route table; then swaps certificates.
  h.pushRoutes();
  if (gatewayTls) h.supervisor.send('gateway', { type: 'tls_reload' });
  const body: ReloadBody = {
    version,
    applied: plan.applied,
    restarted: plan.restarted,
    restart_required: plan.restartRequired,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
  h.recordReload({ at, source, ok: true, ...body });
  h.log.info({ event: 'reload_applied', source, ...body }, `config v${version} applied`);
  if (changed) h.publish({ type: 'ConfigUpdated', version });
  return { ok: true, body };
}
