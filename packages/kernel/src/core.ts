// `@ron/kernel/core`: the kernel pieces that need no server — the error envelope and codes, ids,
// units, build info. Clients (ronctl) and protocol code (signing, validation) import this, so they
// never load Fastify, pino or prom-client (which the main entry point brings in).

// Errors and ids
export { ApiError, type ErrorCode } from './errors.js';
export { ulid } from './request-id.js';
// Units and build info
export { parseDuration } from './units.js';
export { buildInfo, versionLine } from './build-info.js';
