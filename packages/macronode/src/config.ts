import {
  ADDR_RULE,
  field,
  isLoopbackHost,
  loadConfig,
  parseAddr,
  type ConfigOf,
  type LoadedConfig,
  type Schema,
} from '@ron/kernel';
import { hostSchema } from './host-config.js';
import type { Prefixed } from './planes/plane.js';
import { PLANES, PLANE_NAMES } from './planes/table.js';

// macronode's one config schema: the host's keys, `services`, then each plane's section under
// `<plane>.` in table order (planes/table.ts).

type Table = typeof PLANES;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void
  ? I
  : never;
/** Every plane's section with its prefix, one type. */
type PlaneSections = UnionToIntersection<
  { [N in keyof Table]: Prefixed<N, Table[N]['config']> }[keyof Table]
>;

function planeSections(): PlaneSections {
  const out: Schema = {};
  for (const [name, mod] of Object.entries(PLANES))
    for (const [k, f] of Object.entries(mod.config)) out[`${name}.${k}`] = f;
  return out as PlaneSections;
}

export const schema = {
  ...hostSchema,
  services: field.list(PLANE_NAMES, {
    env: ['RON_SERVICES'],
    deprecatedEnv: ['MACRO_SERVICES'],
    flag: 'services',
    doc: `enabled planes, comma-separated (known: ${PLANE_NAMES.join(', ')}); the gateway always runs`,
  }),
  ...planeSections(),
};

export type MacronodeConfig = ConfigOf<typeof schema>;
export type Loaded = LoadedConfig<typeof schema>;

export const validate = (c: MacronodeConfig): { key: string; rule: string }[] => {
  const out: { key: string; rule: string }[] = [];
  for (const k of ['http_addr', 'gateway_addr'] as const) {
    const a = parseAddr(c[k]);
    if (a === undefined || a.kind !== 'tcp')
      out.push({ key: k, rule: 'must be HOST:PORT (e.g. 127.0.0.1:8080)' });
  }
  // SPEC §4.7: an admin plane reachable from other hosts needs TLS or a token (or the dev bypass).
  const admin = parseAddr(c.http_addr);
  if (
    admin?.kind === 'tcp' &&
    !isLoopbackHost(admin.host) &&
    c['tls.admin.cert'] === '' &&
    c.admin_token === '' &&
    !c.dev_insecure
  )
    out.push({
      key: 'http_addr',
      rule: 'a non-loopback admin listener needs TLS (tls.admin.cert/key) or admin_token (MACRONODE_DEV_INSECURE=1 overrides, dev only)',
    });
  if (c.metrics_addr !== '' && parseAddr(c.metrics_addr) === undefined)
    out.push({ key: 'metrics_addr', rule: ADDR_RULE });
  for (const s of c.services) {
    if (!PLANE_NAMES.includes(s))
      out.push({ key: 'services', rule: `unknown plane "${s}" (known: ${PLANE_NAMES.join(', ')})` });
  }
  if (c['supervisor.backoff_min'] > c['supervisor.backoff_max'])
    out.push({ key: 'supervisor.backoff_min', rule: 'must be ≤ supervisor.backoff_max' });
  // With a backoff cap longer than the window, restarts could never accumulate inside one window:
  // a crash loop would run forever at the cap and never reach `failed`.
  if (c['supervisor.backoff_max'] >= c['supervisor.window'])
    out.push({
      key: 'supervisor.backoff_max',
      rule: 'must be shorter than supervisor.window, or intensity can never trip',
    });
  if (c['supervisor.heartbeat_timeout'] <= c['supervisor.heartbeat_interval'])
    out.push({
      key: 'supervisor.heartbeat_timeout',
      rule: 'must be longer than supervisor.heartbeat_interval',
    });
  for (const l of ['admin', 'gateway'] as const) {
    const cert = c[`tls.${l}.cert`];
    const key = c[`tls.${l}.key`];
    if ((cert === '') !== (key === ''))
      out.push({
        key: `tls.${l}.${cert === '' ? 'cert' : 'key'}`,
        rule: 'tls cert and key must be set together',
      });
    if (c[`tls.${l}.client_ca`] !== '' && cert === '')
      out.push({ key: `tls.${l}.client_ca`, rule: 'mTLS needs tls cert and key' });
  }
  return out;
};

export interface LoadInput {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, unknown>;
}

/** The one config pipeline (start-up, `check`, `config print|validate`, reload). Throws ConfigError. */
export function loadMacronodeConfig(input: LoadInput): Loaded {
  return loadConfig({
    schema,
    file: input.file,
    fileEnv: 'RON_CONFIG',
    env: input.env ?? process.env,
    flags: input.flags ?? {},
    nestedEnvPrefix: 'RON_',
    envPrefixes: ['RON_', 'MACRONODE_'],
    // ronctl's variables and the test fault knob share the prefix.
    knownEnv: [
      'RON_TEST_FAULT',
      'RON_REGISTRY_URL',
      'RON_ADMIN_URL',
      'RON_GATEWAY_URL',
      'RON_REGISTRY_ID',
      'RON_REGISTRY_TOKEN',
    ],
    validate,
  });
}

/** Test-only fault knob (documented in docs/macronode.md); read here so env reads stay in the config module. */
export function testFault(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.RON_TEST_FAULT;
}
