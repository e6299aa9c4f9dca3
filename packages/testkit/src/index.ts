// `@ron/testkit`: test helpers shared by every package's tests and the benchmarks.

// Programs on ephemeral ports
export { spawnProgram, runProgram, type Program } from './spawn.js';
export { startPostgres, type PgCluster } from './postgres.js';
// Sockets, raw HTTP and polling
export { tempDir, freePort, rawRequest, rawExchange, parseRawResponse, openSocket, waitFor } from './net.js';
// Clients: SSE and keep-alive load
export { sseConnect, type SseClient, type SseEvent } from './sse-client.js';
export { KeepAliveLoad } from './keep-alive-load.js';
export { mountSmallFs } from './fs.js';
