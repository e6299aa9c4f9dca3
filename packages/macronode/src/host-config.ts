import { LOG_LEVELS, field, normalizeLevel, type ConfigOf } from '@ron/kernel';

// The host's own keys (SPEC §4.2 with §1.6): every key, its env names, deprecated MACRO_* aliases
// (accepted with a warning), its CLI flag and its default. Planes add their sections (planes/table.ts)
// and config.ts merges both into macronode's one schema.

export const hostSchema = {
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
};

/** The host's keys: what every plane module may read besides its own section. */
export type HostConfig = ConfigOf<typeof hostSchema>;
