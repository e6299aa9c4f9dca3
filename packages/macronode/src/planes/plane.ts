import type { Logger } from '@ron/kernel';
import type { MacronodeConfig } from '../config.js';

/** JSON-serialisable options handed to a plane's child process. */
export type PlaneOptions = Record<string, unknown>;

export interface RunningPlane {
  /** The plane's internal listener, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  /** Extra facts for the start-up log and /api/v1/status (paths, signer key, …). */
  readonly info?: Record<string, unknown>;
  /** Prometheus text of the plane's own series, merged into the host's /metrics (optional). */
  metrics?(): Promise<string>;
  close(graceMs: number): Promise<void>;
}

/** What the runner gives a plane besides its options. */
export interface PlaneContext {
  /** Receives host messages the runner does not handle itself. */
  onMessage(fn: (m: unknown) => void): void;
}

/**
 * One plane: what the gateway routes to it, how its options derive from the node config (parent
 * side), and how it starts inside its child process (child side).
 */
export interface PlaneModule {
  readonly name: string;
  /** Gateway path prefixes, e.g. ['/v1/kv']: `/v1/kv` and everything under it. */
  readonly prefixes: readonly string[];
  /** How to try it, for the start-up log (`{gateway}` is replaced by the gateway URL). */
  readonly tryIt: string;
  options(c: MacronodeConfig): PlaneOptions;
  /** The gateway's body cap for this plane's routes, when it differs from `limits.max_body_bytes`. */
  bodyCap?(c: MacronodeConfig): number;
  start(opts: PlaneOptions, log: Logger, ctx: PlaneContext): Promise<RunningPlane>;
}

export interface ChildSpec {
  restart: 'permanent' | 'transient' | 'temporary';
  critical: boolean;
  shutdownMs: number;
}

export function childSpec(c: MacronodeConfig, plane: string): ChildSpec {
  const get = (k: string): unknown => (c as Record<string, unknown>)[`${plane}.${k}`];
  return {
    restart: (get('restart') as ChildSpec['restart'] | undefined) ?? 'permanent',
    critical: (get('critical') as boolean | undefined) ?? true,
    shutdownMs: (get('shutdown_ms') as number | undefined) ?? 5000,
  };
}
