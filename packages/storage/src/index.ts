export { createStorageNode, type StorageNode, type StorageNodeOptions } from './app.js';
export { CasStore, type CasStoreOptions, type ObjectInfo, type PutResult } from './cas-store.js';
export {
  schema as storageSchema,
  validate as validateStorageConfig,
  type StorageConfig,
  configFromOverrides as storageConfigFrom,
} from './config.js';
export { StoreError, type StoreErrorKind } from './errors.js';
export { CHUNK_SIZE, ObjectHasher, chunkHash, isAddress } from './hash.js';
export { cli } from './main.js';
export { startStorage, type RunningStorage, type StartStorageOptions } from './start.js';
