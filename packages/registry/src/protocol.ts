// `@ron/registry/protocol`: what a client needs to speak to a registry — canonical JSON, keys and
// signatures, log entries and the hash chain, governance subjects and quorums, proposal bodies,
// capabilities — without the server: importing this loads no Fastify, SQLite, PostgreSQL client
// or metrics (ronctl keygen/sign/verify start in a fraction of the time; a test keeps it so).

// Canonical JSON
export { canonicalJson, parseStrictJson } from './canonical.js';
// Keys and signatures
export { generateKeyFile, signBytes, signedBytes, type KeyFile, type Signature } from './signing.js';
// Log entries and the hash chain
export type { Head, LogEntry } from './log-entry.js';
export { ChainVerifier, b3, initChain } from './chain.js';
export { ChainError } from './errors.js';
// Governance: subjects, quorums, signer sets, proposal bodies
export { evaluateQuorum, governanceSignedBytes, quorumMet, type Subject } from './governance/quorum.js';
export { initialSignerSet, type SignerSet } from './governance/signer-set.js';
export {
  governanceEntryOf,
  parseProposalBody,
  subjectOf,
  type ProposalStatus,
} from './governance/governance.js';
// Capabilities (macaroons)
export {
  CAPABILITY_SCOPES,
  generateRootKey,
  mintCapability,
  parseRootKey,
  type CapabilityScope,
} from './governance/capabilities.js';
