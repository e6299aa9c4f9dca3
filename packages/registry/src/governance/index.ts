// Registry governance (descriptors, proposals, rotation, capabilities, v1 routes): what the
// registry's start-up and app wire together. Other files import the governance modules directly.

// The service and its wiring onto a Registry
export { type Governance } from './governance.js';
export { attachGovernance, governanceMetrics } from './attach.js';
export { initialSignerSet } from './signer-set.js';
export { parseRootKey } from './capabilities.js';
// v1 routes and the stream snapshot
export { registerGovernanceRoutes, governanceSnapshot } from './routes.js';
