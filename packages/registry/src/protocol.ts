// `@ron/registry/protocol`: what a client needs to speak to a registry — canonical JSON, keys and
// signatures, log entries and the hash chain, governance subjects and quorums, proposal bodies,
// capabilities — without the server: importing this loads no Fastify, SQLite, PostgreSQL client
// or metrics (ronctl keygen/sign/verify start in a fraction of the time; a test keeps it so).
export * from './canonical.js';
export * from './signing.js';
export * from './log-entry.js';
export { ChainVerifier, b3, entryHash, initChain, seal } from './chain.js';
export { ChainError } from './errors.js';
export {
  evaluateQuorum,
  governanceSignedBytes,
  quorumMet,
  type QuorumOutcome,
  type Subject,
} from './governance/quorum.js';
export { initialSignerSet, type SignerSet } from './governance/signer-set.js';
export {
  governanceEntryOf,
  parseProposalBody,
  subjectOf,
  type ProposalStatus,
} from './governance/governance.js';
export {
  CAPABILITY_SCOPES,
  generateRootKey,
  mintCapability,
  parseRootKey,
  type CapabilityScope,
} from './governance/capabilities.js';
