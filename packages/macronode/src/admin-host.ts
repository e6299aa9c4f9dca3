import type { Logger } from '@ron/kernel';
import type { NodeBus } from './bus.js';
import type { LoadInput, Loaded, MacronodeConfig } from './config.js';
import type { MacronodeMetrics } from './metrics.js';
import type { PlaneState, PlaneStatus } from './supervisor/supervisor.js';

// What the admin plane (admin.ts, ui-routes.ts, backup-route.ts) needs from the host, owned here so
// the admin modules never import the host (node.ts implements AdminHost).

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

/** The plane controls the admin routes use. */
export interface AdminPlanes {
  names(): string[];
  has(name: string): boolean;
  status(name: string): PlaneStatus | undefined;
  url(name: string): string | undefined;
  /** Seconds until the plane's next restart attempt (Retry-After). */
  retryAfter(name: string): number;
  /** The plane's own Prometheus series over IPC ('' when it has none or does not answer in time). */
  planeMetrics(name: string, timeoutMs?: number): Promise<string>;
  /** Clears a failed plane's restart intensity and starts it again (undefined: no such plane). */
  reset(name: string): PlaneState | undefined;
}

export interface AdminHost {
  readonly config: MacronodeConfig;
  readonly loaded: Loaded;
  readonly input: LoadInput;
  readonly log: Logger;
  readonly metrics: MacronodeMetrics;
  readonly bus: NodeBus;
  readonly planes: AdminPlanes;
  readiness(): ReadyReport;
  status(): Record<string, unknown>;
  reload(source: 'SIGHUP' | 'api', dryRun?: boolean): Promise<ReloadResult>;
  /** POST /api/v1/shutdown: the process's shutdown (given to the host by main). */
  requestShutdown(): void;
}
