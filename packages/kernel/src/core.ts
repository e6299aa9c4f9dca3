// `@ron/kernel/core`: the kernel pieces that need no server — the error envelope and codes, ids,
// units, build info. Clients (ronctl) and protocol code (signing, validation) import this, so they
// never load Fastify, pino or prom-client (which the main entry point brings in).

// Errors and ids
export { ApiError, type ErrorCode } from './errors.js';
export { ulid } from './request-id.js';
// How a failed durable write is answered (507 full disk, 503 store unavailable): stores that may be
// loaded by protocol code (the registry's proposals) map their errors without the server packages.
export { durableWriteError } from './group-commit.js';
// Units and build info
export { parseDuration } from './units.js';
export { buildInfo, versionLine } from './build-info.js';
