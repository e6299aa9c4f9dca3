export { createMicronode, type Micronode, type MicronodeOptions } from './app.js';
export {
  schema as micronodeSchema,
  validate as validateMicronodeConfig,
  type MicronodeConfig,
  configFromOverrides as micronodeConfigFrom,
} from './config.js';
export { MemStore } from './mem-store.js';
export { SqliteStore } from './sqlite-store.js';
export type { KvStore } from './kv-store.js';
export { cli } from './main.js';
export { startMicronode, type RunningMicronode, type StartMicronodeOptions } from './start.js';
export { effectiveEngine } from './config.js';
