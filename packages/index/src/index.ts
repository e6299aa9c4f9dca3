export { createIndexApp, storePath, type IndexApp, type IndexAppOptions } from './app.js';
export {
  schema as indexSchema,
  validate as validateIndexConfig,
  type IndexConfig,
  configFromOverrides as indexConfigFrom,
} from './config.js';
export {
  IndexStore,
  type Binding,
  type DeleteResult,
  type HistoryEntry,
  type Precondition,
  type PutResult,
} from './index-store.js';
export { IndexMetrics, INDEX_OPS } from './metrics.js';
export { cli } from './main.js';
export { startIndex, type RunningIndex, type StartIndexOptions } from './start.js';
