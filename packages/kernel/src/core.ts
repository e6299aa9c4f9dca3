// `@ron/kernel/core`: the kernel pieces that need no server — the error envelope and codes, ids,
// units, build info. Clients (ronctl) and protocol code (signing, validation) import this, so they
// never load Fastify, pino or prom-client (which the main entry point brings in).
export * from './errors.js';
export * from './request-id.js';
export * from './units.js';
export * from './build-info.js';
