// `@ron/registry`: svc-registry for hosts (macronode), tools and benchmarks. A curated list: what
// other packages, benchmarks and docs/registry.md use. Clients without a server use
// `@ron/registry/protocol`.

// Start a registry (docs/registry.md "Programmatic") and its config
export { startRegistry, type StartRegistryOptions, type RunningRegistry } from './start.js';
export {
  schema as registrySchema,
  validate as validateRegistryConfig,
  loadRegistryConfig,
  type RegistryConfig,
  configFromOverrides as registryConfigFrom,
} from './config.js';
// The log, its stores and audit
export { Registry } from './registry.js';
export type { LogStore } from './store.js';
export { MemoryStore } from './memory-store.js';
export { SqliteStore } from './sqlite-store.js';
export { PgStore, probePostgres, redactPgUrl } from './pg-store.js';
export { RegistryMetrics } from './metrics.js';
export { LogAudit } from './audit.js';
export { verifyLogSnapshot, type SnapshotSigners } from './snapshot.js';
// Canonical JSON, log entries and the hash chain
export { canonicalJson } from './canonical.js';
export { ZERO_B3, type LogEntry } from './log-entry.js';
export { b3, initChain, seal } from './chain.js';
// Keys and signatures (docs/registry.md "In code")
export {
  signedBytes,
  signBytes,
  verifySignature,
  checkQuorum,
  generateKeyFile,
  signerIdFromPublicKey,
  publicKeyFromSignerId,
  privateKeyFromSeed,
  type KeyFile,
  type Signature,
  type SignedFields,
} from './signing.js';
// Governance: signed bytes, signer sets, capability root keys
export { governanceSignedBytes } from './governance/quorum.js';
export { initialSignerSet } from './governance/signer-set.js';
export { generateRootKey } from './governance/capabilities.js';
