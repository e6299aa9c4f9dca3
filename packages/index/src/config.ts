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

/** svc-index's one config schema: rules and defaults (SPEC §4.5.2, §1.6). */
export const schema = {
  ...programFields('INDEX', '127.0.0.1:0'),
  'storage.path': field.string('./_data/index.db', {
    env: ['INDEX_STORAGE_PATH'],
    flag: 'storagePath',
    doc: 'SQLite file (WAL, synchronous=FULL)',
  }),
  amnesia: field.bool(false, {
    env: ['INDEX_AMNESIA'],
    flag: 'amnesia',
    doc: 'keep nothing on disk (an in-memory SQLite store)',
  }),
  'index.history_limit': field.int(100, {
    env: ['INDEX_HISTORY_LIMIT'],
    min: 1,
    doc: 'versions kept per name for GET …/history (older ones are pruned)',
  }),
  'limits.max_body_bytes': field.size(16 * 1024, {
    env: ['INDEX_MAX_BODY_BYTES'],
    min: 1,
    doc: 'body cap on PUT (413 past it)',
  }),
  'limits.request_timeout': field.duration(5000, {
    env: ['INDEX_REQUEST_TIMEOUT'],
    min: 1,
    doc: 'handler + body upload budget (408 past it)',
  }),
  'limits.max_inflight': field.int(1024, {
    env: ['INDEX_MAX_INFLIGHT'],
    min: 1,
    doc: 'in-flight budget per write route (429 Busy past it)',
  }),
  shutdown_grace: shutdownGraceField(),
};

export type IndexConfig = ConfigOf<typeof schema>;

export const validate = (c: IndexConfig): { key: string; rule: string }[] => {
  const out: { key: string; rule: string }[] = [];
  if (parseAddr(c.bind) === undefined) out.push({ key: 'bind', rule: ADDR_RULE });
  return out;
};

/**
 * This program's config from its defaults plus typed overrides by schema key, validated like a
 * start-up config (no env, no file): how a host such as macronode embeds it. An unknown key throws.
 */
export function configFromOverrides(overrides: ConfigOverrides<typeof schema>): IndexConfig {
  return configFrom(schema, overrides, validate);
}
