import {
  ADDR_RULE,
  LOG_LEVELS,
  field,
  isLoopbackHost,
  loadConfig,
  normalizeLevel,
  parseAddr,
  type ConfigOf,
  type LoadedConfig,
} from '@ron/kernel';
import { PLANE_NAMES } from './planes/names.js';

// macronode's one config schema (SPEC §4.2 with §1.6): every key, its env names, deprecated
// MACRO_* aliases (accepted with a warning), its CLI flag and its default.

const restartPolicy = ['permanent', 'transient', 'temporary'] as const;

export const schema = {
  http_addr: field.string('127.0.0.1:8080', {
    env: ['RON_HTTP_ADDR'],
    deprecatedEnv: ['MACRO_HTTP_ADDR'],
    flag: 'httpAddr',
    doc: 'admin plane listener (HOST:PORT)',
  }),
  gateway_addr: field.string('127.0.0.1:8090', {
    env: ['RON_GATEWAY_ADDR'],
    deprecatedEnv: ['MACRO_GATEWAY_ADDR'],
    flag: 'gatewayAddr',
    doc: 'gateway (public ingress) listener',
  }),
  metrics_addr: field.string<string>('', {
    env: ['RON_METRICS_ADDR'],
    deprecatedEnv: ['MACRO_METRICS_ADDR'],
    flag: 'metricsAddr',
    doc: 'optional separate /metrics listener; empty = served on the admin listener only',
  }),
  log_level: field.enum(LOG_LEVELS, 'info', {
    env: ['RON_LOG', 'LOG_LEVEL', 'RUST_LOG'],
    deprecatedEnv: ['MACRO_LOG'],
    flag: 'logLevel',
    normalize: normalizeLevel,
    doc: 'log level (live on reload)',
  }),
  read_timeout: field.duration(10_000, {
    env: ['RON_READ_TIMEOUT'],
    deprecatedEnv: ['MACRO_READ_TIMEOUT'],
    min: 1,
    doc: 'time to receive a whole request on the admin and gateway listeners',
  }),
  write_timeout: field.duration(10_000, {
    env: ['RON_WRITE_TIMEOUT'],
    deprecatedEnv: ['MACRO_WRITE_TIMEOUT'],
    min: 1,
    doc: 'handler budget: admin route timeout and gateway upstream timeout (408/503 past it)',
  }),
  idle_timeout: field.duration(60_000, {
    env: ['RON_IDLE_TIMEOUT'],
    deprecatedEnv: ['MACRO_IDLE_TIMEOUT'],
    min: 1,
    doc: 'idle keep-alive timeout',
  }),
  data_dir: field.string('./.ron', {
    env: ['RON_DATA_DIR'],
    deprecatedEnv: ['MACRO_DATA_DIR'],
    flag: 'dataDir',
    doc: 'where planes keep their stores and the local signer key',
  }),
  amnesia: field.bool(false, {
    env: ['RON_AMNESIA'],
    deprecatedEnv: ['MACRO_AMNESIA'],
    flag: 'amnesia',
    doc: 'keep nothing on disk (planes use in-memory stores)',
  }),
  services: field.list(PLANE_NAMES, {
    env: ['RON_SERVICES'],
    deprecatedEnv: ['MACRO_SERVICES'],
    flag: 'services',
    doc: `enabled planes, comma-separated (known: ${PLANE_NAMES.join(', ')}); the gateway always runs`,
  }),
  admin_token: field.string<string>('', {
    env: ['RON_ADMIN_TOKEN'],
    deprecatedEnv: ['MACRO_ADMIN_TOKEN'],
    secret: true,
    doc: 'bearer token for admin POST routes; empty = loopback callers only (live on reload)',
  }),
  dev_ready: field.bool(false, { env: ['MACRONODE_DEV_READY'], doc: 'force /readyz to 200 (dev only)' }),
  dev_insecure: field.bool(false, { env: ['MACRONODE_DEV_INSECURE'], doc: 'bypass admin auth (dev only)' }),
  shutdown_grace: field.duration(10_000, { min: 0, doc: 'grace for in-flight requests on shutdown' }),

  'tls.admin.cert': field.string<string>('', {
    doc: 'PEM certificate for the admin listener (HTTPS when set)',
  }),
  'tls.admin.key': field.string<string>('', { secret: true, doc: 'PEM private key for the admin listener' }),
  'tls.admin.client_ca': field.string<string>('', {
    doc: 'PEM CA bundle: require client certificates (mTLS)',
  }),
  'tls.gateway.cert': field.string<string>('', { doc: 'PEM certificate for the gateway listener' }),
  'tls.gateway.key': field.string<string>('', {
    secret: true,
    doc: 'PEM private key for the gateway listener',
  }),
  'tls.gateway.client_ca': field.string<string>('', { doc: 'PEM CA bundle for gateway mTLS' }),

  'limits.max_body_bytes': field.size(1024 * 1024, {
    env: ['RON_MAX_BODY_BYTES'],
    deprecatedEnv: ['MACRO_MAX_BODY_BYTES'],
    min: 1,
    doc: 'body cap at the gateway edge (413 past it; live on reload)',
  }),
  'limits.gateway_max_inflight': field.int(1024, {
    min: 1,
    doc: 'gateway in-flight budget per plane route (429 Busy past it)',
  }),
  'limits.admin_rps': field.number(200, { min: 0.1, doc: 'admin plane token bucket refill per second' }),
  'limits.admin_burst': field.int(400, { min: 1, doc: 'admin plane token bucket size' }),

  'supervisor.backoff_min': field.duration(100, {
    min: 1,
    doc: 'first restart delay (floor of the jittered backoff)',
  }),
  'supervisor.backoff_max': field.duration(30_000, { min: 1, doc: 'cap of the exponential backoff' }),
  'supervisor.backoff_reset': field.duration(60_000, {
    min: 1,
    doc: 'stable uptime after which the backoff resets',
  }),
  'supervisor.max_restarts': field.int(5, {
    min: 0,
    doc: 'restarts allowed within `window` before the plane is failed',
  }),
  'supervisor.window': field.duration(60_000, { min: 1, doc: 'intensity period for max_restarts' }),
  'supervisor.heartbeat_interval': field.duration(1000, {
    min: 10,
    doc: 'how often planes heartbeat over IPC',
  }),
  'supervisor.heartbeat_timeout': field.duration(5000, {
    min: 20,
    doc: 'missed-heartbeat window: a plane silent this long is hung and killed',
  }),
  'supervisor.warm_spare': field.bool(true, {
    doc: 'keep one idle plane runner forked so a restart skips module loading',
  }),
  'supervisor.start_timeout': field.duration(15_000, {
    min: 100,
    doc: 'a plane not ready within this is killed and counted as a crash',
  }),

  'gateway.restart': field.enum(restartPolicy, 'permanent', { doc: 'gateway child spec restart policy' }),
  'gateway.critical': field.bool(true, { doc: 'gateway down flips /readyz to 503' }),
  'gateway.shutdown_ms': field.duration(12_000, {
    min: 0,
    doc: 'SIGTERM→SIGKILL grace for the gateway (covers its drain)',
  }),

  'kv.restart': field.enum(restartPolicy, 'permanent', { doc: 'kv child spec restart policy' }),
  'kv.critical': field.bool(true, { doc: 'kv down flips /readyz to 503' }),
  'kv.shutdown_ms': field.duration(5000, { min: 0, doc: 'SIGTERM→SIGKILL grace for kv' }),
  'kv.storage_engine': field.enum(['mem', 'sqlite'], 'sqlite', {
    doc: 'kv store engine (amnesia forces mem)',
  }),
  'kv.max_body_bytes': field.size(1024 * 1024, { min: 1, doc: 'kv plane body cap on writes' }),

  'storage.restart': field.enum(restartPolicy, 'permanent', { doc: 'storage child spec restart policy' }),
  'storage.critical': field.bool(true, { doc: 'storage down flips /readyz to 503' }),
  'storage.shutdown_ms': field.duration(5000, { min: 0, doc: 'SIGTERM→SIGKILL grace for storage' }),
  'storage.max_object_bytes': field.size(64 * 1024 * 1024, {
    min: 1,
    doc: 'largest object; also the gateway body cap on /v1/cas',
  }),
  'storage.max_bytes': field.size(0, {
    min: 0,
    doc: 'quota on stored (deduplicated) bytes, 507 past it; 0 = only the disk',
  }),

  'index.restart': field.enum(restartPolicy, 'permanent', { doc: 'index child spec restart policy' }),
  'index.critical': field.bool(true, { doc: 'index down flips /readyz to 503' }),
  'index.shutdown_ms': field.duration(5000, { min: 0, doc: 'SIGTERM→SIGKILL grace for index' }),

  'mailbox.restart': field.enum(restartPolicy, 'permanent', { doc: 'mailbox child spec restart policy' }),
  'mailbox.critical': field.bool(true, { doc: 'mailbox down flips /readyz to 503' }),
  'mailbox.shutdown_ms': field.duration(5000, { min: 0, doc: 'SIGTERM→SIGKILL grace for mailbox' }),
  'mailbox.max_message_bytes': field.size(256 * 1024, { min: 1, doc: 'largest mailbox message body' }),
  'mailbox.dedup_window': field.duration(5 * 60_000, {
    min: 0,
    doc: 'how long an Idempotency-Key is remembered per topic',
  }),
  'mailbox.max_receives': field.int(5, {
    min: 1,
    max: 1000,
    doc: 'leases without an ack before a message is dead-lettered',
  }),
  'mailbox.default_visibility': field.duration(30_000, {
    min: 1,
    max: 12 * 3_600_000,
    doc: 'lease length when a receive names none',
  }),
  'mailbox.metrics_topic_cap': field.int(100, {
    min: 1,
    doc: 'topics with their own metric series (the rest under topic="_other")',
  }),

  'registry.restart': field.enum(restartPolicy, 'permanent', { doc: 'registry child spec restart policy' }),
  'registry.critical': field.bool(true, { doc: 'registry down flips /readyz to 503' }),
  'registry.shutdown_ms': field.duration(5000, { min: 0, doc: 'SIGTERM→SIGKILL grace for registry' }),
  'registry.sig_threshold': field.int(1, { min: 1, doc: 'signatures required for a registry write' }),
  'registry.db': field.string<string>('', {
    doc: 'registry store: empty = <data_dir>/registry/registry.db (SQLite); postgres://user:pw@host:port/db = a replica on a shared PostgreSQL',
  }),
  'registry.signer_key': field.string<string>('', {
    doc: 'signer key file; empty = <data_dir>/keys/signer.key (created on first run)',
  }),
};

export type MacronodeConfig = ConfigOf<typeof schema>;
export type Loaded = LoadedConfig<typeof schema>;

export const validate = (c: MacronodeConfig): { key: string; rule: string }[] => {
  const out: { key: string; rule: string }[] = [];
  for (const k of ['http_addr', 'gateway_addr'] as const) {
    const a = parseAddr(c[k]);
    if (a === undefined || a.kind !== 'tcp')
      out.push({ key: k, rule: 'must be HOST:PORT (e.g. 127.0.0.1:8080)' });
  }
  // SPEC §4.7: an admin plane reachable from other hosts needs TLS or a token (or the dev bypass).
  const admin = parseAddr(c.http_addr);
  if (
    admin?.kind === 'tcp' &&
    !isLoopbackHost(admin.host) &&
    c['tls.admin.cert'] === '' &&
    c.admin_token === '' &&
    !c.dev_insecure
  )
    out.push({
      key: 'http_addr',
      rule: 'a non-loopback admin listener needs TLS (tls.admin.cert/key) or admin_token (MACRONODE_DEV_INSECURE=1 overrides, dev only)',
    });
  if (c.metrics_addr !== '' && parseAddr(c.metrics_addr) === undefined)
    out.push({ key: 'metrics_addr', rule: ADDR_RULE });
  for (const s of c.services) {
    if (!PLANE_NAMES.includes(s))
      out.push({ key: 'services', rule: `unknown plane "${s}" (known: ${PLANE_NAMES.join(', ')})` });
  }
  if (c['supervisor.backoff_min'] > c['supervisor.backoff_max'])
    out.push({ key: 'supervisor.backoff_min', rule: 'must be ≤ supervisor.backoff_max' });
  // With a backoff cap longer than the window, restarts could never accumulate inside one window:
  // a crash loop would run forever at the cap and never reach `failed`.
  if (c['supervisor.backoff_max'] >= c['supervisor.window'])
    out.push({
      key: 'supervisor.backoff_max',
      rule: 'must be shorter than supervisor.window, or intensity can never trip',
    });
  if (c['supervisor.heartbeat_timeout'] <= c['supervisor.heartbeat_interval'])
    out.push({
      key: 'supervisor.heartbeat_timeout',
      rule: 'must be longer than supervisor.heartbeat_interval',
    });
  for (const l of ['admin', 'gateway'] as const) {
    const cert = c[`tls.${l}.cert`];
    const key = c[`tls.${l}.key`];
    if ((cert === '') !== (key === ''))
      out.push({
        key: `tls.${l}.${cert === '' ? 'cert' : 'key'}`,
        rule: 'tls cert and key must be set together',
      });
    if (c[`tls.${l}.client_ca`] !== '' && cert === '')
      out.push({ key: `tls.${l}.client_ca`, rule: 'mTLS needs tls cert and key' });
  }
  return out;
};

export interface LoadInput {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, unknown>;
}

/** The one config pipeline (start-up, `check`, `config print|validate`, reload). Throws ConfigError. */
export function loadMacronodeConfig(input: LoadInput): Loaded {
  return loadConfig({
    schema,
    file: input.file,
    fileEnv: 'RON_CONFIG',
    env: input.env ?? process.env,
    flags: input.flags ?? {},
    nestedEnvPrefix: 'RON_',
    envPrefixes: ['RON_', 'MACRONODE_'],
    // ronctl's variables and the test fault knob share the prefix.
    knownEnv: [
      'RON_TEST_FAULT',
      'RON_REGISTRY_URL',
      'RON_ADMIN_URL',
      'RON_GATEWAY_URL',
      'RON_REGISTRY_ID',
      'RON_REGISTRY_TOKEN',
    ],
    validate,
  });
}

/** Test-only fault knob (documented in docs/macronode.md); read here so env reads stay in the config module. */
export function testFault(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.RON_TEST_FAULT;
}
