export * from './canonical.js';
export * from './signing.js';
export * from './log-entry.js';
export { ChainVerifier, b3, entryHash, initChain, seal, storedTextMatches } from './chain.js';
export { ChainError, StoreConflictError } from './errors.js';
export type { LogStore, ProposalRecord, StoreKind, StoredEntry } from './store.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { SqliteStore } from './sqlite-store.js';
export {
  PgStore,
  StoreUnreachableError,
  probePostgres,
  redactPgUrl,
  type PgStoreOptions,
} from './pg-store.js';
export {
  Registry,
  type RegistryOptions,
  type CommitRequest,
  type CommitOutcome,
  type ReplayReport,
} from './registry.js';
// registry governance (descriptors, proposals, rotation, capabilities, v1 routes).
export * from './governance/index.js';
export {
  schema as registrySchema,
  validate as validateRegistryConfig,
  loadRegistryConfig,
  type RegistryConfig,
  configFromOverrides as registryConfigFrom,
} from './config.js';
export { RegistryMetrics } from './metrics.js';
export { LogAudit, type AuditState, type AuditStatus, type LogAuditOptions } from './audit.js';
export { EntryAuditor, type AuditFault } from './audit-check.js';
export { StreamHub } from './stream-hub.js';
export {
  startRegistry,
  EXIT_CHAIN_BROKEN,
  EXIT_STORE,
  type StartRegistryOptions,
  type RunningRegistry,
} from './start.js';
export { cli } from './main.js';
export { verifyLogSnapshot, snapshotHead, type LogSnapshotReport, type SnapshotSigners } from './snapshot.js';
export {
  backupRegistry,
  restoreRegistry,
  verifyRegistryBackup,
  type RegistryBackupManifest,
} from './backup-cli.js';
