import { field, type ConfigOf, type Field, type Logger, type Schema } from '@ron/kernel';
import type { HostConfig } from '../host-config.js';

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

/** One line of `macronode doctor`. */
export interface DoctorCheck {
  name: string;
  verdict: 'ok' | 'warn' | 'fail';
  detail: string;
}

const RESTART_POLICIES = ['permanent', 'transient', 'temporary'] as const;

/** The child-spec keys every plane's section starts with (`<plane>.restart|critical|shutdown_ms`). */
export interface ChildSpecSchema extends Schema {
  restart: Field<(typeof RESTART_POLICIES)[number]>;
  critical: Field<boolean>;
  shutdown_ms: Field<number>;
}

/**
 * The child-spec fields of a plane's config section, with their defaults and docs. Spread them first
 * into the section: `{ ...childSpecFields('kv'), storage_engine: field.enum(…) }`.
 */
export function childSpecFields(
  plane: string,
  o: { shutdownMs?: number; shutdownDoc?: string } = {},
): ChildSpecSchema {
  return {
    restart: field.enum(RESTART_POLICIES, 'permanent', { doc: `${plane} child spec restart policy` }),
    critical: field.bool(true, { doc: `${plane} down flips /readyz to 503` }),
    shutdown_ms: field.duration(o.shutdownMs ?? 5000, {
      min: 0,
      doc: o.shutdownDoc ?? `SIGTERM→SIGKILL grace for ${plane}`,
    }),
  };
}

/**
 * One plane, declared in one folder under planes/ and one entry of planes/table.ts. Everything the
 * host needs derives from it: its config section (merged into macronode's schema under
 * `<name>.`, so `config print`, validation, reload diffing and docs see it), its child spec, its
 * gateway routes and body cap, its doctor checks and its store file. Methods get the plane's own
 * section (keys without the prefix) and the host's keys.
 */
export interface PlaneModule<S extends ChildSpecSchema = ChildSpecSchema> {
  readonly name: string;
  /** The gateway plane runs always and is not listed in `services`. */
  readonly alwaysOn?: boolean;
  /** The plane's config section: keys without the `<name>.` prefix. */
  readonly config: S;
  /** Gateway path prefixes, e.g. ['/v1/kv']: `/v1/kv` and everything under it. */
  readonly prefixes: readonly string[];
  /** How to try it, for the start-up log (`{gateway}` is replaced by the gateway URL). */
  readonly tryIt: string;
  /** The SQLite store under data_dir that backups copy and doctor opens (none for the gateway). */
  readonly store?: PlaneStore;
  /** The child's options (parent side); a change restarts the plane on reload. */
  options(own: ConfigOf<S>, host: HostConfig): PlaneOptions;
  /** The gateway's body cap for this plane's routes, when it differs from `limits.max_body_bytes`. */
  bodyCap?(own: ConfigOf<S>, host: HostConfig): number;
  /** Checks `macronode doctor` runs for this plane instead of opening `store` (e.g. a remote store). */
  doctor?(own: ConfigOf<S>, host: HostConfig): Promise<DoctorCheck[]>;
  /** Starts the plane inside its child process. */
  start(opts: PlaneOptions, log: Logger, ctx: PlaneContext): Promise<RunningPlane>;
}

export interface PlaneStore {
  /** The SQLite file, relative to data_dir, e.g. `kv/micronode.db`. */
  readonly file: string;
  /** The newest write in a store, which a restore compares with the backup's (refuses to go back). */
  readonly watermark: { readonly sql: string; readonly what: string };
}

/** Declares a plane (infers its config section's type). */
export function definePlane<S extends ChildSpecSchema>(m: PlaneModule<S>): PlaneModule<S> {
  return m;
}

/** A section's keys with the `<name>.` prefix, as they appear in macronode's schema. */
export type Prefixed<N extends string, S> = { [K in keyof S & string as `${N}.${K}`]: S[K] };

/** The plane's own section of a full node config (keys without the prefix). */
export function ownConfig<S extends ChildSpecSchema>(mod: PlaneModule<S>, c: HostConfig): ConfigOf<S> {
  const all = c as unknown as Readonly<Record<string, unknown>>;
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(mod.config)) own[k] = all[`${mod.name}.${k}`];
  return own as ConfigOf<S>;
}

export interface ChildSpec {
  restart: (typeof RESTART_POLICIES)[number];
  critical: boolean;
  shutdownMs: number;
}

export function childSpec(mod: PlaneModule, c: HostConfig): ChildSpec {
  const own = ownConfig(mod, c);
  return { restart: own.restart, critical: own.critical, shutdownMs: own.shutdown_ms };
}

/** The child's options from a full node config. */
export function planeOptions(mod: PlaneModule, c: HostConfig): PlaneOptions {
  return mod.options(ownConfig(mod, c), c);
}
