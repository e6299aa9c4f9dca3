// Registry governance: descriptors, proposals, signer rotation, capabilities, v1 routes.
export * from './descriptor.js';
export * from './signer-set.js';
export * from './quorum.js';
export * from './state.js';
export * from './proposals.js';
export * from './governance.js';
export * from './capabilities.js';
export * from './routes.js';
export * from './attach.js';
