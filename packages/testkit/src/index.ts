export * from './spawn.js';
export * from './net.js';
export * from './sse-client.js';
export * from './postgres.js';
export * from './keep-alive-load.js';
