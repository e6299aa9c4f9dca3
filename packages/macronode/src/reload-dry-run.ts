import { ConfigError } from '@ron/kernel';
import { loadMacronodeConfig, schema } from './config.js';
import type { Macronode, ReloadResult } from './node.js';
import { planReload } from './reload.js';

/** One changed key of a dry run: running value → value a reload would load (secrets redacted). */
export interface ConfigChange {
  key: string;
  from: unknown;
  to: unknown;
  source: string;
}

export type DryRunResult =
  | {
      ok: true;
      body: Extract<ReloadResult, { ok: true }>['body'] & { dry_run: true; changes: ConfigChange[] };
    }
  | { ok: false; message: string };

const SECRET = new Set(
  Object.entries(schema)
    .filter(([, f]) => (f as { secret?: boolean }).secret === true)
    .map(([k]) => k),
);

function redact(key: string, v: unknown): unknown {
  return SECRET.has(key) && v !== '' && v !== undefined ? '***' : v;
}

/**
 * `POST /api/v1/reload?dry_run=1` (SPEC §4.6): re-runs the config pipeline and answers what a reload
 * would do — the same body as a reload — changing nothing. `changes` lists each differing key.
 */
export function dryRunReload(node: Macronode): DryRunResult {
  let next;
  try {
    next = loadMacronodeConfig(node.input);
  } catch (err) {
    return {
      ok: false,
      message: err instanceof ConfigError || err instanceof Error ? err.message : String(err),
    };
  }
  const old = node.config as Record<string, unknown>;
  const n = next.config as Record<string, unknown>;
  const plan = planReload(node.config, next.config);
  const changes: ConfigChange[] = [];
  for (const k of Object.keys(n)) {
    if (JSON.stringify(old[k]) === JSON.stringify(n[k])) continue;
    const src = (next.sources as Record<string, { layer: string; origin: string }>)[k];
    changes.push({
      key: k,
      from: redact(k, old[k]),
      to: redact(k, n[k]),
      source: src === undefined ? 'default' : src.origin !== '' ? `${src.layer} (${src.origin})` : src.layer,
    });
  }
  const changed = plan.applied.length + plan.restartRequired.length + plan.restarted.length > 0;
  const version = (node.status().config_version as number) + (changed ? 1 : 0);
  return {
    ok: true,
    body: {
      version,
      applied: plan.applied,
      restarted: plan.restarted,
      restart_required: plan.restartRequired,
      dry_run: true,
      changes,
    },
  };
}
