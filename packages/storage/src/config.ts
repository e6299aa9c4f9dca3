import {
  programFields,
  shutdownGraceField,
  ADDR_RULE,
  field,
  parseAddr,
  type ConfigOf,
  configFrom,
  type ConfigOverrides,
} from '@ron/kernel';

/** svc-storage's one config schema: rules and defaults (SPEC §4.5.1, §1.6). */
export const schema = {
  ...programFields('STORAGE', '127.0.0.1:0'),
  data_dir: field.string<string>('./_data/storage', {
    env: ['STORAGE_DATA_DIR'],
    flag: 'dataDir',
    doc: 'where the store keeps its SQLite records, segment files and temporary uploads',
  }),
  'storage.max_object_bytes': field.size(64 * 1024 * 1024, {
    env: ['STORAGE_MAX_OBJECT_BYTES'],
    flag: 'maxObjectBytes',
    min: 1,
    doc: 'largest object accepted; a larger declared Content-Length is 413 before any byte is read',
  }),
  'storage.max_bytes': field.size(0, {
    env: ['STORAGE_MAX_BYTES'],
    flag: 'maxBytes',
    min: 0,
    doc: 'quota on stored (deduplicated) bytes, 507 past it; 0 = only the disk limits',
  }),
  'limits.request_timeout': field.duration(300_000, {
    env: ['STORAGE_REQUEST_TIMEOUT'],
    min: 1,
    doc: 'budget for one request, upload or download included (408 past it)',
  }),
  'limits.max_inflight': field.int(64, {
    env: ['STORAGE_MAX_INFLIGHT'],
    min: 1,
    doc: 'in-flight budget for uploads (429 Busy past it)',
  }),
  'gc.interval': field.duration(1000, {
    env: ['STORAGE_GC_INTERVAL'],
    min: 1,
    doc: 'how often the background GC looks for dead chunks',
  }),
  'gc.batch': field.int(512, {
    env: ['STORAGE_GC_BATCH'],
    min: 1,
    doc: 'chunks freed per GC step (one short transaction each)',
  }),
  shutdown_grace: shutdownGraceField(),
};

export type StorageConfig = ConfigOf<typeof schema>;

export const validate = (c: StorageConfig): { key: string; rule: string }[] => {
  const out: { key: string; rule: string }[] = [];
  if (parseAddr(c.bind) === undefined) out.push({ key: 'bind', rule: ADDR_RULE });
  if (c.data_dir === '') out.push({ key: 'data_dir', rule: 'must name a directory' });
  return out;
};

/**
 * This program's config from its defaults plus typed overrides by schema key, validated like a
 * start-up config (no env, no file): how a host such as macronode embeds it. An unknown key throws.
 */
export function configFromOverrides(overrides: ConfigOverrides<typeof schema>): StorageConfig {
  return configFrom(schema, overrides, validate);
}
