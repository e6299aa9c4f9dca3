import type { MacronodeConfig } from './config.js';
import { PLANES } from './planes/table.js';

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
  const eff = effectiveAfterReload(old, next, plan) as Record<string, unknown>;
  const effCfg = eff as MacronodeConfig;
  plan.enable = next.services.filter((s) => !old.services.includes(s));
  plan.disable = old.services.filter((s) => !next.services.includes(s));
  // A plane whose derived options or child spec changed restarts (only that plane).
  for (const name of [...next.services, 'gateway']) {
    if (plan.enable.includes(name)) continue;
    const mod = PLANES[name];
    if (mod === undefined) continue;
    const spec = (c: Record<string, unknown>): unknown[] =>
      ['restart', 'critical', 'shutdown_ms'].map((k) => c[`${name}.${k}`]);
    if (!same(mod.options(old), mod.options(effCfg)) || !same(spec(o), spec(eff))) plan.restarted.push(name);
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
