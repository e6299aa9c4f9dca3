// `@ron/kernel`: the shared runtime the programs build on. A curated list: what the programs,
// benchmarks and docs use. Server-free pieces are also on `@ron/kernel/core`; SQLite helpers on
// `@ron/kernel/sqlite`, backups on `@ron/kernel/backup` (they load the native addon).

// Error envelope and request ids (SPEC §1.2)
export { ApiError, apiProblem, type ErrorFields } from './errors.js';
export { ulid } from './request-id.js';
// Server, replies and ingress guards (SPEC §1.4)
export { createServer, methodNotAllowed } from './server.js';
export { sendError, sendRawError } from './reply.js';
export {
  guards,
  decodeVerdict,
  mustClose,
  InflightCounter,
  TokenBucket,
  type GuardOptions,
} from './guards.js';
export { sseFrame, openSseResponse, SseStream, type SseOptions } from './sse.js';
// Metrics, readiness and the admin plane
export { HttpMetrics, RouteMetrics, FastCounter, LATENCY_BUCKETS } from './metrics.js';
export { Readiness, type ProbeOptions } from './readiness.js';
export { registerAdmin } from './admin.js';
export { registerReadyGauge } from './ready-gauge.js';
export { registerBackupRoute, registerBackupMetrics, type BackupRouteOptions } from './backup-route.js';
export { buildInfo, versionLine } from './build-info.js';
// Config, command line and logging
export {
  field,
  loadConfig,
  configFrom,
  programFields,
  shutdownGraceField,
  printConfig,
  normalizeLevel,
  ConfigError,
  EX_CONFIG,
  LOG_LEVELS,
  type ConfigOf,
  type ConfigOverrides,
  type LogLevel,
  type Field,
  type Layer,
  type LoadedConfig,
  type Schema,
} from './config.js';
export { parseCli } from './cli.js';
export { programCli } from './program-cli.js';
export { createLogger, setLogLevel, type Logger } from './logger.js';
// Listening, start-up and shutdown
export { listen, parseAddr, isLoopbackHost, ADDR_RULE } from './listen.js';
export { startProgram } from './start-program.js';
export { runMain, StartupError, EX_UNAVAILABLE } from './main.js';
export { installShutdown, closeWithGrace } from './shutdown.js';
// Durable writes (the writer itself is on `@ron/kernel/sqlite`)
export { durableWriteError } from './group-commit.js';
