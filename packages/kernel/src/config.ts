import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parseDuration, parseSize } from './units.js';

// Layered config (SPEC §1.6): defaults → file → env → flags, validated once, every error at once.

/** Where a value came from; `override` is a host embedding the program (`configFrom`). */
export type Layer = 'default' | 'file' | 'env' | 'flag' | 'override';

export interface Field<T> {
  readonly kind: 'string' | 'int' | 'number' | 'bool' | 'duration' | 'size' | 'list' | 'enum';
  readonly default: T;
  /** Env names, first one wins; later ones are aliases. */
  readonly env?: readonly string[];
  /** Deprecated env names: accepted with a warning. */
  readonly deprecatedEnv?: readonly string[];
  /** Flag key as commander reports it (camelCase), e.g. `bind` or `adminBind`. */
  readonly flag?: string;
  readonly secret?: boolean;
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Custom string normalisation (e.g. RUST_LOG-style levels). */
  readonly normalize?: (raw: string) => string;
}

export type Schema = Record<string, Field<unknown>>;
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

type FieldOpts<T> = Omit<Field<T>, 'kind' | 'default'>;

/** Field constructors; the default fixes the TypeScript type. */
export const field = {
  /** A string; its type is `string` unless narrowed explicitly (`field.string<'a' | 'b'>(…)`). */
  string: <T extends string | undefined = string>(def: NoInfer<T>, o: FieldOpts<T>): Field<T> => ({
    kind: 'string',
    default: def,
    ...o,
  }),
  int: (def: number, o: FieldOpts<number>): Field<number> => ({ kind: 'int', default: def, ...o }),
  number: (def: number, o: FieldOpts<number>): Field<number> => ({ kind: 'number', default: def, ...o }),
  bool: (def: boolean, o: FieldOpts<boolean>): Field<boolean> => ({ kind: 'bool', default: def, ...o }),
  /** Milliseconds; accepts numbers (ms) and "250ms", "5s", "1m". */
  duration: (def: number, o: FieldOpts<number>): Field<number> => ({ kind: 'duration', default: def, ...o }),
  /** Bytes; accepts numbers and "64KiB", "1MiB". */
  size: (def: number, o: FieldOpts<number>): Field<number> => ({ kind: 'size', default: def, ...o }),
  list: (def: readonly string[], o: FieldOpts<readonly string[]>): Field<readonly string[]> => ({
    kind: 'list',
    default: def,
    ...o,
  }),
  enum: <const V extends string>(
    values: readonly V[],
    def: V,
    o: Omit<FieldOpts<V>, 'values'>,
  ): Field<V> => ({
    kind: 'enum',
    default: def,
    values,
    ...o,
  }),
};

export interface ConfigIssue {
  key: string;
  layer: Layer;
  /** Where in the layer: env var name, flag, file path. */
  origin: string;
  value: string;
  rule: string;
  /** Preformatted report replacing the usual line (a file that does not parse: `path:line:col` + caret). */
  text?: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  /** The merged config as far as it could be built (bad values stay at their default): `config print` shows it. */
  readonly loaded: LoadedConfig<Schema> | undefined;
  constructor(issues: readonly ConfigIssue[], loaded?: LoadedConfig<Schema>) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
    this.loaded = loaded;
  }
}

export const EX_CONFIG = 78;

export function formatIssues(issues: readonly ConfigIssue[]): string {
  const lines = issues.map((i) =>
    i.text !== undefined
      ? `  - ${i.text.replaceAll('\n', '\n    ')}`
      : `  - ${i.key}: ${i.rule} (got ${i.value} from ${i.layer}${i.origin ? ` ${i.origin}` : ''})`,
  );
  return `invalid configuration (${issues.length} error${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

export interface LoadOptions<S extends Schema> {
  schema: S;
  /** Explicit file path (from `--config`); falls back to `env[fileEnv]`. */
  file?: string | undefined;
  /** Env var naming the config file, e.g. `MICRONODE_CONFIG`. */
  fileEnv?: string;
  env?: NodeJS.ProcessEnv;
  /** Parsed CLI flags (commander `opts()`); undefined values are ignored. */
  flags?: Record<string, unknown>;
  /**
   * Values by schema key, applied last (a host embedding the program); undefined values are ignored
   * and an unknown key is an error.
   */
  overrides?: Readonly<Record<string, unknown>>;
  /** Prefix for nested overrides `<PREFIX><SECTION>__<KEY>`, e.g. `REGISTRY_`. */
  nestedEnvPrefix?: string;
  /**
   * Env prefixes this program owns (`RON_`): a variable carrying one that names no setting is a
   * warning naming the closest known variable (SPEC §1.6).
   */
  envPrefixes?: readonly string[];
  /** Env names read elsewhere (by sibling tools or test knobs) that the prefix check must not flag. */
  knownEnv?: readonly string[];
  /** Cross-field rules, run on the merged result; return issues naming keys. */
  validate?: (
    cfg: ConfigOf<S>,
    sources: Readonly<Record<keyof S, Layer>>,
  ) => Omit<ConfigIssue, 'layer' | 'origin' | 'value'>[];
}

export interface LoadedConfig<S extends Schema> {
  readonly config: ConfigOf<S>;
  readonly sources: Readonly<Record<keyof S & string, { layer: Layer; origin: string }>>;
  readonly warnings: readonly string[];
  readonly file: string | undefined;
  readonly schema: S;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Converts one raw value (string from env/flag, typed from a file) to the field's type. */
function coerce(f: Field<unknown>, raw: unknown): { ok: true; value: unknown } | { ok: false; rule: string } {
  switch (f.kind) {
    case 'string': {
      if (typeof raw !== 'string') return { ok: false, rule: 'must be a string' };
      return { ok: true, value: f.normalize ? f.normalize(raw) : raw };
    }
    case 'enum': {
      const s = typeof raw === 'string' ? (f.normalize ? f.normalize(raw) : raw) : raw;
      if (typeof s !== 'string' || !f.values!.includes(s))
        return { ok: false, rule: `must be one of ${f.values!.join(', ')}` };
      return { ok: true, value: s };
    }
    case 'int':
    case 'number': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || (f.kind === 'int' && !Number.isSafeInteger(n)))
        return { ok: false, rule: f.kind === 'int' ? 'must be an integer' : 'must be a number' };
      if (f.min !== undefined && n < f.min) return { ok: false, rule: `must be ≥ ${f.min}` };
      if (f.max !== undefined && n > f.max) return { ok: false, rule: `must be ≤ ${f.max}` };
      return { ok: true, value: n };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      const s = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return { ok: true, value: true };
      if (['0', 'false', 'no', 'off', ''].includes(s)) return { ok: true, value: false };
      return { ok: false, rule: 'must be a boolean (true/false/1/0)' };
    }
    case 'duration':
    case 'size': {
      const n = f.kind === 'duration' ? parseDuration(raw) : parseSize(raw);
      if (n === undefined)
        return {
          ok: false,
          rule:
            f.kind === 'duration'
              ? 'must be a duration like "250ms", "5s", "1m"'
              : 'must be a size like 65536, "64KiB", "1MiB"',
        };
      if (f.min !== undefined && n < f.min) return { ok: false, rule: `must be ≥ ${f.min}` };
      if (f.max !== undefined && n > f.max) return { ok: false, rule: `must be ≤ ${f.max}` };
      return { ok: true, value: n };
    }
    case 'list': {
      const arr = Array.isArray(raw)
        ? raw
        : typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '')
          : null;
      if (arr === null || !arr.every((x) => typeof x === 'string'))
        return { ok: false, rule: 'must be a list of strings (or comma-separated)' };
      return { ok: true, value: Object.freeze([...arr]) };
    }
  }
}

/** Flattens `{a:{b:1}}` to `{"a.b":1}`; stops at keys the schema knows (so lists stay whole). */
function flatten(
  obj: Record<string, unknown>,
  schema: Schema,
  prefix = '',
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      !(key in schema) &&
      !(v instanceof Date)
    ) {
      flatten(v as Record<string, unknown>, schema, key, out);
    } else {
      out[key] = v;
    }
  }
  return out;
}

/** A config file that cannot be read or does not parse; `report` is `path:line:col: message` + caret lines. */
export class ConfigFileError extends Error {
  constructor(readonly report: string) {
    super(report);
    this.name = 'ConfigFileError';
  }
}

/** The caret block for `text` at 1-based line/column, like smol-toml's own. */
function caretBlock(text: string, line: number, col: number): string {
  const src = text.split('\n')[line - 1] ?? '';
  return `${line}:  ${src}\n${' '.repeat(String(line).length + 3 + col - 1)}^`;
}

function parseFile(path: string, text: string, json: boolean): unknown {
  try {
    return json ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    const err = e as Error & { line?: number; column?: number; codeblock?: string };
    // smol-toml: "Invalid TOML document: <what>\n\n<codeblock>"; JSON.parse: "... at position N".
    const what = json
      ? err.message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (\.\.\.)?".*$/s, '')
      : (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    let line = err.line;
    let col = err.column;
    let block = err.codeblock?.replace(/\n$/, '');
    const pos = /position (\d+)/.exec(err.message);
    if (line === undefined && pos !== null) {
      const before = text.slice(0, Number(pos[1]));
      line = before.split('\n').length;
      col = Number(pos[1]) - before.lastIndexOf('\n');
      block = caretBlock(text, line, col);
    }
    const where = line !== undefined ? `${path}:${line}:${col ?? 1}` : path;
    throw new ConfigFileError(
      `${where}: ${json ? 'invalid JSON' : 'invalid TOML'}: ${what}${block ? `\n${block}` : ''}`,
    );
  }
}

/** Reads a TOML or JSON file (by extension) into dotted keys. Throws ConfigFileError. */
export function readConfigFile(path: string, schema: Schema): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigFileError(`${path}: cannot be read: ${(e as Error).message.replace(/, open '.*'$/, '')}`);
  }
  const parsed = parseFile(path, text, extname(path).toLowerCase() === '.json');
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigFileError(`${path}: the top level must be a table/object`);
  return flatten(parsed as Record<string, unknown>, schema);
}

/** Edit distance (Levenshtein) for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (ties: the first listed). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/**
 * Loads, merges and validates config. Throws ConfigError listing every problem at once.
 *
 * @example
 * const { config } = loadConfig({ schema, fileEnv: 'MICRONODE_CONFIG', flags: program.opts() });
 */
/** Typed values by schema key: what a host passes to `configFrom`. */
export type ConfigOverrides<S extends Schema> = { readonly [K in keyof S]?: ConfigOf<S>[K] };

/**
 * A program's config from its schema defaults plus `overrides` (schema keys, typed values), checked
 * and cross-validated exactly like a start-up config. No env variable and no file is read. An
 * unknown key is an error, never ignored, so renaming a key cannot silently drop a host's setting.
 * Throws ConfigError listing every problem.
 *
 * @example
 * const config = configFrom(micronodeSchema, { bind: '127.0.0.1:0', storage_engine: 'mem' });
 */
export function configFrom<S extends Schema>(
  schema: S,
  overrides: ConfigOverrides<S>,
  validate?: LoadOptions<S>['validate'],
): ConfigOf<S> {
  return loadConfig({ schema, env: {}, overrides, ...(validate ? { validate } : {}) }).config;
}

export function loadConfig<S extends Schema>(opts: LoadOptions<S>): LoadedConfig<S> {
  const { schema } = opts;
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? {};
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const values: Record<string, unknown> = {};
  const sources: Record<string, { layer: Layer; origin: string }> = {};

  for (const [k, f] of Object.entries(schema)) {
    values[k] = f.default;
    sources[k] = { layer: 'default', origin: '' };
  }
  const set = (key: string, raw: unknown, layer: Layer, origin: string): void => {
    const f = schema[key];
    if (f === undefined) {
      issues.push({ key, layer, origin, value: show(raw), rule: 'unknown key' });
      return;
    }
    const r = coerce(f, raw);
    if (!r.ok) {
      issues.push({ key, layer, origin, value: f.secret ? '"***"' : show(raw), rule: r.rule });
      return;
    }
    values[key] = r.value;
    sources[key] = { layer, origin };
  };

  // 1. File layer.
  const file = opts.file ?? (opts.fileEnv ? env[opts.fileEnv] : undefined) ?? undefined;
  if (file !== undefined && file !== '') {
    try {
      const flat = readConfigFile(file, schema);
      for (const [k, v] of Object.entries(flat)) set(k, v, 'file', file);
    } catch (e) {
      const text =
        e instanceof ConfigFileError ? e.report : `${file}: ${e instanceof Error ? e.message : String(e)}`;
      issues.push({
        key: '(file)',
        layer: 'file',
        origin: file,
        value: '',
        rule: 'cannot be read or parsed',
        text,
      });
    }
  }

  // 2. Env layer: declared names, deprecated aliases, then nested overrides.
  for (const [k, f] of Object.entries(schema)) {
    for (const name of f.deprecatedEnv ?? []) {
      const v = env[name];
      if (v !== undefined) {
        warnings.push(`${name} is deprecated; use ${f.env?.[0] ?? `--${f.flag ?? k}`} instead`);
        set(k, v, 'env', name);
      }
    }
    // The first name is canonical: walk aliases in reverse so it wins.
    for (const name of [...(f.env ?? [])].reverse()) {
      const v = env[name];
      if (v !== undefined) set(k, v, 'env', name);
    }
  }
  if (opts.nestedEnvPrefix) {
    const p = opts.nestedEnvPrefix;
    for (const [name, v] of Object.entries(env)) {
      if (v === undefined || !name.startsWith(p) || !name.includes('__')) continue;
      const key = name.slice(p.length).toLowerCase().split('__').join('.');
      set(key, v, 'env', name);
    }
  }

  // 2b. A variable with one of our prefixes that names nothing is most likely a typo (SPEC §1.6).
  if (opts.envPrefixes !== undefined && opts.envPrefixes.length > 0) {
    const known = new Set(opts.knownEnv ?? []);
    if (opts.fileEnv) known.add(opts.fileEnv);
    for (const f of Object.values(schema))
      for (const n of [...(f.env ?? []), ...(f.deprecatedEnv ?? [])]) known.add(n);
    for (const name of Object.keys(env).sort()) {
      const prefix = opts.envPrefixes.find((p) => name.startsWith(p));
      // Nested overrides (`<PREFIX><SECTION>__<KEY>`) are checked as keys above.
      if (
        prefix === undefined ||
        known.has(name) ||
        (opts.nestedEnvPrefix !== undefined && name.startsWith(opts.nestedEnvPrefix) && name.includes('__'))
      )
        continue;
      const candidates = [...known].filter((n) => n.startsWith(prefix));
      const near = closest(name, candidates.length > 0 ? candidates : [...known]);
      warnings.push(`${name} is not a setting${near !== undefined ? `; did you mean ${near}?` : ''}`);
    }
  }

  // 3. Flag layer.
  for (const [k, f] of Object.entries(schema)) {
    if (f.flag === undefined) continue;
    const v = flags[f.flag];
    if (v !== undefined) set(k, typeof v === 'number' ? String(v) : v, 'flag', `--${kebab(f.flag)}`);
  }

  // 4. Overrides, by schema key.
  for (const [k, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) set(k, v, 'override', k);

  const config = Object.freeze(values) as ConfigOf<S>;
  if (issues.length === 0 && opts.validate) {
    for (const i of opts.validate(
      config,
      Object.fromEntries(Object.entries(sources).map(([k, s]) => [k, s.layer])) as Record<keyof S, Layer>,
    )) {
      const src = sources[i.key] ?? { layer: 'default' as Layer, origin: '' };
      issues.push({
        ...i,
        layer: src.layer,
        origin: src.origin,
        value: schema[i.key]?.secret ? '"***"' : show(values[i.key]),
      });
    }
  }
  const loaded = Object.freeze({ config, sources: Object.freeze(sources), warnings, file, schema });
  if (issues.length > 0) throw new ConfigError(issues, loaded);
  return loaded;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `config print`: each effective value with its source, secrets redacted. */
export function formatConfig<S extends Schema>(
  loaded: LoadedConfig<S>,
  json = false,
  /** Keys whose effective value differs from the merged one (e.g. a db path unused in dev mode). */
  overrides: Readonly<Record<string, { value: unknown; source: string }>> = {},
): string {
  const rows = Object.keys(loaded.schema).map((k) => {
    const f = loaded.schema[k]!;
    const raw = (loaded.config as Record<string, unknown>)[k];
    const value = f.secret && raw !== undefined && raw !== '' ? '***' : raw;
    const src = loaded.sources[k as keyof S & string];
    const o = overrides[k];
    if (o !== undefined) return { key: k, value: o.value, source: o.source };
    return { key: k, value, source: src.origin ? `${src.layer} (${src.origin})` : src.layer };
  });
  if (json)
    return JSON.stringify(
      Object.fromEntries(rows.map((r) => [r.key, { value: r.value ?? null, source: r.source }])),
      null,
      2,
    );
  const w = Math.max(...rows.map((r) => r.key.length));
  return rows.map((r) => `${r.key.padEnd(w)} = ${JSON.stringify(r.value ?? null)}  # ${r.source}`).join('\n');
}

/**
 * `<program> config print` (SPEC §1.6): prints the effective config even when it is invalid, then
 * its warnings and problems on stderr. Returns the exit code (0, or 78 when invalid).
 */
export function printConfig<S extends Schema>(
  program: string,
  load: () => LoadedConfig<S>,
  opts: {
    json?: boolean;
    overrides?: (l: LoadedConfig<S>) => Record<string, { value: unknown; source: string }>;
  } = {},
): number {
  let loaded: LoadedConfig<S>;
  let problems: ConfigError | undefined;
  try {
    loaded = load();
  } catch (err) {
    if (!(err instanceof ConfigError) || err.loaded === undefined) throw err;
    problems = err;
    loaded = err.loaded as LoadedConfig<S>;
  }
  process.stdout.write(`${formatConfig(loaded, opts.json === true, opts.overrides?.(loaded))}\n`);
  for (const w of loaded.warnings) process.stderr.write(`${program}: warning: ${w}\n`);
  if (problems === undefined) return 0;
  process.stderr.write(`${program}: ${problems.message}\n`);
  return EX_CONFIG;
}

/** RUST_LOG-style level strings ("info", "svc=debug,warn") reduced to one pino level. */
export function normalizeLevel(raw: string): string {
  const parts = raw.split(',').map((s) => s.trim().toLowerCase());
  const bare =
    parts.filter((p) => !p.includes('=')).pop() ?? parts.map((p) => p.split('=')[1] ?? '').pop() ?? raw;
  return bare === 'warning' ? 'warn' : bare === 'off' ? 'silent' : bare;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The keys every standalone program shares, with one spelling: its listener (`bind`, env
 * `<PREFIX>_BIND`), its log level (`LOG_LEVEL`, `RUST_LOG`) and the dev readiness override
 * (`<PREFIX>_DEV_READY`). Spread first into a program's schema.
 */
export function programFields(
  envPrefix: string,
  bindDefault: string,
  o: { bindEnv?: readonly string[]; bindDoc?: string } = {},
): {
  bind: Field<string>;
  log_level: Field<LogLevel>;
  dev_ready: Field<boolean>;
} {
  return {
    bind: field.string(bindDefault, {
      env: o.bindEnv ?? [`${envPrefix}_BIND`],
      flag: 'bind',
      doc: o.bindDoc ?? 'listener (admin + API), HOST:PORT or unix:/path; port 0 = ephemeral',
    }),
    log_level: field.enum(LOG_LEVELS, 'info', {
      env: ['LOG_LEVEL', 'RUST_LOG'],
      flag: 'logLevel',
      normalize: normalizeLevel,
      doc: 'pino log level',
    }),
    dev_ready: field.bool(false, {
      env: [`${envPrefix}_DEV_READY`],
      flag: 'devReady',
      doc: 'force /readyz to 200 (dev only)',
    }),
  };
}

/** `shutdown_grace`: how long in-flight requests may finish on SIGTERM (every program). */
export function shutdownGraceField(): Field<number> {
  return field.duration(10_000, { doc: 'grace for in-flight requests on SIGTERM' });
}
