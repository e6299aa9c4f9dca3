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

/** micronode's one config schema: rules and defaults (SPEC §3, §1.6). */
export const schema = {
  ...programFields('MICRONODE', '127.0.0.1:5310', {
    bindEnv: ['MICRONODE_BIND', 'BIND_ADDR'],
    bindDoc: 'listener (admin + API)',
  }),
  dev_routes: field.bool(false, {
    env: ['MICRONODE_DEV_ROUTES'],
    flag: 'devRoutes',
    doc: 'expose /dev/echo and /dev/rl',
  }),
  'limits.max_body_bytes': field.size(1024 * 1024, {
    env: ['MICRONODE_MAX_BODY_BYTES'],
    flag: 'maxBodyBytes',
    min: 1,
    doc: 'body cap on KV writes and dev routes',
  }),
  'limits.request_timeout': field.duration(5000, {
    env: ['MICRONODE_READY_TIMEOUT_MS'],
    min: 1,
    doc: 'handler + body upload budget on guarded routes (408 past it)',
  }),
  'limits.max_inflight': field.int(1024, {
    env: ['MICRONODE_READY_MAX_INFLIGHT'],
    min: 1,
    doc: 'in-flight budget per KV write route (429 Busy past it)',
  }),
  'rate_limit.rps': field.number(0, {
    env: ['MICRONODE_RL_RPS'],
    min: 0,
    doc: 'token bucket refill per second on KV routes; 0 = off',
  }),
  'rate_limit.burst': field.int(0, {
    env: ['MICRONODE_RL_BURST'],
    min: 0,
    doc: 'token bucket size; 0 = same as rps',
  }),
  'rate_limit.tarpit_ms': field.duration(0, {
    env: ['MICRONODE_RL_TARPIT_MS'],
    min: 0,
    doc: 'delay before a 429 answer',
  }),
  'storage.engine': field.enum(['mem', 'sqlite'], 'sqlite', {
    env: ['MICRONODE_STORAGE_ENGINE'],
    flag: 'storageEngine',
    doc: 'mem or sqlite',
  }),
  'storage.path': field.string('./_data/micronode.db', {
    env: ['MICRONODE_STORAGE_PATH'],
    flag: 'storagePath',
    doc: 'SQLite file',
  }),
  amnesia: field.bool(false, {
    env: ['MICRONODE_AMNESIA'],
    flag: 'amnesia',
    doc: 'nothing touches disk (forces mem)',
  }),
  shutdown_grace: shutdownGraceField(),
};

export type MicronodeConfig = ConfigOf<typeof schema>;

export const validate = (
  c: MicronodeConfig,
  sources: Readonly<Record<keyof typeof schema, string>>,
): { key: string; rule: string }[] => {
  const out: { key: string; rule: string }[] = [];
  if (parseAddr(c.bind) === undefined) out.push({ key: 'bind', rule: ADDR_RULE });
  if (c.amnesia && c['storage.engine'] === 'sqlite' && sources['storage.engine'] !== 'default')
    out.push({
      key: 'storage.engine',
      rule: 'sqlite cannot be combined with amnesia (amnesia keeps nothing on disk); use mem',
    });
  return out;
};

/** The engine actually used: amnesia forces mem. */
export function effectiveEngine(c: MicronodeConfig): 'mem' | 'sqlite' {
  return c.amnesia ? 'mem' : c['storage.engine'];
}

/**
 * This program's config from its defaults plus typed overrides by schema key, validated like a
 * start-up config (no env, no file): how a host such as macronode embeds it. An unknown key throws.
 */
export function configFromOverrides(overrides: ConfigOverrides<typeof schema>): MicronodeConfig {
  return configFrom(schema, overrides, validate);
}
