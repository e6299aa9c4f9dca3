import {
  shutdownGraceField,
  ADDR_RULE,
  LOG_LEVELS,
  field,
  loadConfig,
  normalizeLevel,
  parseAddr,
  type ConfigOf,
  type Layer,
  type LoadedConfig,
  configFrom,
  type ConfigOverrides,
} from '@ron/kernel';
import { publicKeyFromSignerId } from './signing.js';

/** svc-registry's one config schema (SPEC §2.6): rules and defaults. */
export const schema = {
  'bind.api': field.string<string>('127.0.0.1:9444', {
    env: ['REGISTRY_ADDR', 'BIND'],
    flag: 'bind',
    doc: 'API plane listener HOST:PORT',
  }),
  'bind.admin': field.string<string>('127.0.0.1:9909', {
    env: ['METRICS_ADDR'],
    flag: 'adminBind',
    doc: 'admin plane listener HOST:PORT',
  }),
  'bind.uds': field.string<string>('', {
    env: ['REGISTRY_UDS'],
    flag: 'uds',
    doc: 'also serve the API plane on this unix socket path',
  }),
  db: field.string<string>('./_data/registry.db', {
    env: ['REGISTRY_DB'],
    flag: 'db',
    doc: 'SQLite file, or postgres://user:password@host:port/db (replicas share one database)',
  }),
  amnesia: field.bool(false, {
    env: ['AMNESIA'],
    flag: 'amnesia',
    doc: 'in-memory store: nothing touches disk',
  }),
  read_only: field.bool(false, {
    env: ['REGISTRY_READ_ONLY'],
    flag: 'readOnly',
    doc: 'shed every write with 503 ReadOnly',
  }),
  dev: field.bool(false, {
    env: ['REGISTRY_DEV'],
    flag: 'dev',
    doc: 'dev mode: in-memory store, generated signer key, unsigned writes on loopback',
  }),
  dev_ready: field.bool(false, { env: ['REGISTRY_DEV_READY'], doc: 'force /readyz to 200 (dev only)' }),
  registry_id: field.string<string>('default', {
    env: ['REGISTRY_ID'],
    doc: 'registry id inside every signed message',
  }),
  read_cache_cap: field.int(4096, {
    env: ['READ_CACHE_CAP'],
    min: 0,
    doc: 'recent log entries kept in memory for reads',
  }),
  log_level: field.enum(LOG_LEVELS, 'info', {
    env: ['LOG_LEVEL', 'RUST_LOG'],
    flag: 'logLevel',
    normalize: normalizeLevel,
    doc: 'pino log level',
  }),
  'governance.threshold': field.int(1, {
    env: ['SIG_THRESHOLD'],
    flag: 'sigThreshold',
    doc: 'valid distinct signatures a write needs',
  }),
  'governance.signers': field.list([], {
    env: ['SIGNER_ALLOWLIST'],
    flag: 'allowSigner',
    doc: 'allow-listed signer ids (ed25519:<base64url>)',
  }),
  // governance: capability root key file and proposal TTL.
  'governance.capability_key_file': field.string<string>('', {
    env: ['REGISTRY_CAPABILITY_KEY_FILE'],
    flag: 'capabilityKey',
    doc: 'macaroon root key file; when set, governance writes need Authorization: Bearer <macaroon>',
  }),
  'governance.proposal_ttl': field.duration(24 * 3600_000, {
    min: 1,
    doc: 'how long a governance proposal collects signatures',
  }),
  'limits.max_request_bytes': field.size(64 * 1024, {
    min: 64,
    doc: 'body cap on write routes (413 past it)',
  }),
  'limits.max_inflight': field.int(256, {
    min: 1,
    doc: 'one in-flight budget shared by all write routes: POST /registry/commit, /v1/registry/proposals, …/approvals, /v1/registry/apply (429 Busy past it; reads have none)',
  }),
  'limits.reorder_window': field.duration(50, {
    min: 0,
    max: 5000,
    doc: 'how long a signed commit for a version a little ahead of the pending head waits for the versions below it (SQLite; 0 = refuse at once)',
  }),
  'limits.reorder_depth': field.int(16, {
    min: 1,
    max: 256,
    doc: 'how many versions ahead of the pending head a commit may wait for (and the most commits waiting)',
  }),
  'timeouts.request_ms': field.duration(5000, { min: 1, doc: 'request budget (408 past it)' }),
  'sse.heartbeat_ms': field.duration(5000, { min: 10, doc: 'heartbeat bookmark interval' }),
  'sse.max_clients': field.int(1024, {
    min: 1,
    doc: 'concurrent stream clients (503 TooManyStreams past it)',
  }),
  'sse.client_buffer': field.int(1024, {
    min: 1,
    doc: 'events queued per stream client before it is dropped',
  }),
  'sse.client_buffer_bytes': field.size(1024 * 1024, {
    min: 1024,
    doc: 'bytes queued per stream client before it is dropped',
  }),
  'cors.allowed_origins': field.list([], {
    doc: 'origins allowed cross-origin; empty = same-origin only ("*" = any)',
  }),
  shutdown_grace: shutdownGraceField(),
};

export type RegistryConfig = ConfigOf<typeof schema>;

/** Cross-field rules (SPEC §2.1, §2.6). */
export function validate(
  c: RegistryConfig,
  _sources?: Readonly<Record<keyof typeof schema, Layer>>,
): { key: string; rule: string }[] {
  const out: { key: string; rule: string }[] = [];
  for (const k of ['bind.api', 'bind.admin'] as const) {
    const t = parseAddr(c[k]);
    if (t === undefined || t.kind !== 'tcp')
      out.push({ key: k, rule: ADDR_RULE.replace(' or unix:/path', '') });
  }
  if (isPostgresUrl(c.db)) {
    let host = '';
    try {
      host = new URL(c.db).hostname;
    } catch {
      host = '';
    }
    if (host === '')
      out.push({
        key: 'db',
        rule: 'a PostgreSQL store must be a URL postgres://user:password@host:port/database',
      });
  }
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(c.registry_id))
    out.push({ key: 'registry_id', rule: 'must be 1–128 chars of [A-Za-z0-9._:-]' });
  const signers = c['governance.signers'];
  for (const s of signers)
    if (publicKeyFromSignerId(s) === undefined)
      out.push({
        key: 'governance.signers',
        rule: `${JSON.stringify(s.slice(0, 80))} is not a signer id (ed25519:<base64url 32-byte key>)`,
      });
  if (new Set(signers).size !== signers.length)
    out.push({ key: 'governance.signers', rule: 'lists a signer more than once' });
  // 1 ≤ threshold ≤ |allow-list| (SPEC §2.1); dev mode brings its own key, so only the lower bound.
  const t = c['governance.threshold'];
  const rule = 'rule: 1 ≤ threshold ≤ |allow-list|';
  if (t < 1) out.push({ key: 'governance.threshold', rule: `sig_threshold ${t} is below 1 (${rule})` });
  else if (!c.dev && t > signers.length)
    out.push({
      key: 'governance.threshold',
      rule: `sig_threshold ${t} exceeds the ${signers.length} allow-listed signer${signers.length === 1 ? '' : 's'} (${rule}; set SIGNER_ALLOWLIST / --allow-signer, or use --dev)`,
    });
  return out;
}

/**
 * Loads svc-registry config: defaults → file (`--config` / REGISTRY_CONFIG) → env (incl. nested
 * `REGISTRY_<SECTION>__<KEY>`) → flags. Throws ConfigError listing every problem.
 */
export function loadRegistryConfig(
  o: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {},
): LoadedConfig<typeof schema> {
  const flags = o.flags ?? {};
  return loadConfig({
    schema,
    file: flags.config as string | undefined,
    fileEnv: 'REGISTRY_CONFIG',
    ...(o.env !== undefined ? { env: o.env } : {}),
    flags,
    nestedEnvPrefix: 'REGISTRY_',
    envPrefixes: ['REGISTRY_'],
    validate,
  });
}

/** True when `db` names a PostgreSQL store (postgres:// or postgresql://) rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return db.startsWith('postgres://') || db.startsWith('postgresql://');
}

/**
 * This program's config from its defaults plus typed overrides by schema key, validated like a
 * start-up config (no env, no file): how a host such as macronode embeds it. An unknown key throws.
 */
export function configFromOverrides(overrides: ConfigOverrides<typeof schema>): RegistryConfig {
  return configFrom(schema, overrides, validate);
}
