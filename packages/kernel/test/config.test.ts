// SPEC §1.6 layered config: precedence, validation with every error at once, files, units,
// deprecated env names, `config print` with sources and redaction.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, configFrom, field, loadConfig, normalizeLevel } from '../src/index.js';
import { formatConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'kernel-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const schema = {
  port: field.int(8080, { env: ['APP_PORT', 'PORT'], flag: 'port', min: 1, max: 65535, doc: 'port' }),
  name: field.string('app', {
    env: ['APP_NAME'],
    deprecatedEnv: ['OLD_APP_NAME'],
    flag: 'name',
    doc: 'name',
  }),
  token: field.string('', { env: ['APP_TOKEN'], secret: true, doc: 'secret token' }),
  'http.timeout': field.duration(5000, { env: ['APP_TIMEOUT'], flag: 'timeout', doc: 'timeout' }),
  'http.max_body': field.size(1024, { env: ['APP_MAX_BODY'], flag: 'maxBody', doc: 'cap' }),
  mode: field.enum(['a', 'b'], 'a', { env: ['APP_MODE'], doc: 'mode' }),
  debug: field.bool(false, { env: ['APP_DEBUG'], doc: 'debug' }),
  tags: field.list([], { env: ['APP_TAGS'], doc: 'tags' }),
  ratio: field.number(0.5, { env: ['APP_RATIO'], min: 0, max: 1, doc: 'ratio' }),
};

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('defaults apply and are frozen; sources say default', () => {
  const l = loadConfig({ schema, env: {} });
  assert.equal(l.config.port, 8080);
  assert.equal(l.config['http.timeout'], 5000);
  assert.deepEqual(l.sources.port, { layer: 'default', origin: '' });
  assert.ok(Object.isFrozen(l.config));
});

test('property: for any subset of layers setting a key, the highest layer wins (default < file < env < flag)', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      (inFile, inEnv, inFlag, tomlNotJson) => {
        const f = inFile
          ? tomlNotJson
            ? file('p.toml', '[http]\ntimeout = "2s"\n')
            : file('p.json', JSON.stringify({ http: { timeout: '2s' } }))
          : undefined;
        const l = loadConfig({
          schema,
          file: f,
          env: inEnv ? { APP_TIMEOUT: '3s' } : {},
          flags: inFlag ? { timeout: '4s' } : {},
        });
        const expected = inFlag
          ? [4000, 'flag']
          : inEnv
            ? [3000, 'env']
            : inFile
              ? [2000, 'file']
              : [5000, 'default'];
        assert.equal(l.config['http.timeout'], expected[0]);
        assert.equal(l.sources['http.timeout'].layer, expected[1]);
      },
    ),
  );
});

test('all four layers set one key: the flag wins and config print names each source', () => {
  const f = file('all.toml', 'port = 1000\nname = "from-file"\n');
  const l = loadConfig({
    schema,
    file: f,
    env: { APP_PORT: '2000', APP_NAME: 'from-env' },
    flags: { port: '3000' },
  });
  assert.equal(l.config.port, 3000);
  assert.equal(l.config.name, 'from-env');
  const out = formatConfig(l);
  assert.match(out, /^port\s+= 3000\s+# flag \(--port\)$/m);
  assert.match(out, /^name\s+= "from-env"\s+# env \(APP_NAME\)$/m);
  assert.match(out, /^mode\s+= "a"\s+# default$/m);
  const json = JSON.parse(formatConfig(l, true)) as Record<string, { value: unknown; source: string }>;
  assert.deepEqual(json.port, { value: 3000, source: 'flag (--port)' });
});

test('the file may be named by an env var; the first env name wins over its alias', () => {
  const f = file('byenv.json', JSON.stringify({ port: 1111 }));
  assert.equal(loadConfig({ schema, fileEnv: 'APP_CONFIG', env: { APP_CONFIG: f } }).config.port, 1111);
  const l = loadConfig({ schema, env: { APP_PORT: '1', PORT: '2' } });
  assert.equal(l.config.port, 1);
  assert.equal(loadConfig({ schema, env: { PORT: '2' } }).config.port, 2);
});

test('types coerce from env strings: durations, sizes, bools, lists, numbers', () => {
  const l = loadConfig({
    schema,
    env: {
      APP_TIMEOUT: '1m',
      APP_MAX_BODY: '64KiB',
      APP_DEBUG: 'yes',
      APP_TAGS: 'a, b,,c',
      APP_RATIO: '0.25',
    },
  });
  assert.equal(l.config['http.timeout'], 60_000);
  assert.equal(l.config['http.max_body'], 65_536);
  assert.equal(l.config.debug, true);
  assert.deepEqual(l.config.tags, ['a', 'b', 'c']);
  assert.equal(l.config.ratio, 0.25);
  const f = loadConfig({
    schema,
    file: file('units.toml', '[http]\ntimeout = "250ms"\nmax_body = "1MiB"\n'),
  });
  assert.equal(f.config['http.timeout'], 250);
  assert.equal(f.config['http.max_body'], 1024 * 1024);
});

test('every error is reported at once with key, layer, origin, value and rule; unknown keys are errors', () => {
  const f = file('bad.toml', 'nope = 1\n[http]\ntimeout = "later"\n');
  let err: unknown;
  try {
    loadConfig({
      schema,
      file: f,
      env: { APP_PORT: '70000', APP_MODE: 'c', APP_DEBUG: 'maybe', APP_TOKEN: 'hunter2' },
      flags: { maxBody: 'huge' },
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const keys = err.issues.map((i) => `${i.key}@${i.layer}`).sort();
  assert.deepEqual(keys, [
    'debug@env',
    'http.max_body@flag',
    'http.timeout@file',
    'mode@env',
    'nope@file',
    'port@env',
  ]);
  const port = err.issues.find((i) => i.key === 'port')!;
  assert.equal(port.origin, 'APP_PORT');
  assert.equal(port.value, '"70000"');
  assert.match(port.rule, /≤ 65535/);
  assert.match(err.message, /6 errors/);
  assert.match(err.message, /nope: unknown key/);
});

test('a secret never appears in an error or in config print', () => {
  const s2 = { ...schema, token: field.int(0, { env: ['APP_TOKEN'], secret: true, doc: 'numeric secret' }) };
  assert.throws(
    () => loadConfig({ schema: s2, env: { APP_TOKEN: 'hunter2' } }),
    (e: unknown) => e instanceof ConfigError && !e.message.includes('hunter2') && e.message.includes('***'),
  );
  const l = loadConfig({ schema, env: { APP_TOKEN: 'hunter2' } });
  assert.equal(l.config.token, 'hunter2');
  const out = formatConfig(l);
  assert.doesNotMatch(out, /hunter2/);
  assert.match(out, /^token\s+= "\*\*\*"\s+# env \(APP_TOKEN\)$/m);
  assert.doesNotMatch(formatConfig(l, true), /hunter2/);
});

test('deprecated env names are accepted with a warning naming the replacement', () => {
  const l = loadConfig({ schema, env: { OLD_APP_NAME: 'legacy' } });
  assert.equal(l.config.name, 'legacy');
  assert.deepEqual(l.warnings, ['OLD_APP_NAME is deprecated; use APP_NAME instead']);
  // The current name wins over the deprecated one.
  assert.equal(loadConfig({ schema, env: { OLD_APP_NAME: 'legacy', APP_NAME: 'new' } }).config.name, 'new');
});

test('nested env overrides <PREFIX><SECTION>__<KEY>; unknown nested keys are errors', () => {
  const l = loadConfig({ schema, env: { APP_HTTP__TIMEOUT: '7s' }, nestedEnvPrefix: 'APP_' });
  assert.equal(l.config['http.timeout'], 7000);
  assert.equal(l.sources['http.timeout'].origin, 'APP_HTTP__TIMEOUT');
  assert.throws(
    () => loadConfig({ schema, env: { APP_HTTP__NOPE: '1' }, nestedEnvPrefix: 'APP_' }),
    /http\.nope: unknown key/,
  );
});

test('cross-field rules run on the merged result and name the layer of the offending key', () => {
  assert.throws(
    () =>
      loadConfig({
        schema,
        env: { APP_MODE: 'b' },
        validate: (c) => (c.mode === 'b' && !c.debug ? [{ key: 'mode', rule: 'mode b needs debug' }] : []),
      }),
    /mode: mode b needs debug \(got "b" from env APP_MODE\)/,
  );
});

test('unreadable or malformed files are one error naming the file', () => {
  assert.throws(() => loadConfig({ schema, file: join(dir, 'missing.toml') }), /missing\.toml/);
  assert.throws(
    () => loadConfig({ schema, file: file('broken.toml', 'port = = 1') }),
    /broken\.toml:1:8: invalid TOML: invalid value\n +1: {2}port = = 1\n +\^/,
  );
  assert.throws(() => loadConfig({ schema, file: file('array.json', '[1,2]') }), /top level must be a table/);
});

test('RUST_LOG-style level strings reduce to one pino level', () => {
  assert.equal(normalizeLevel('info'), 'info');
  assert.equal(normalizeLevel('svc=debug,warn'), 'warn');
  assert.equal(normalizeLevel('svc=debug'), 'debug');
  assert.equal(normalizeLevel('WARNING'), 'warn');
  assert.equal(normalizeLevel('off'), 'silent');
});

test('configFrom: typed overrides by schema key over the defaults; env is never read', () => {
  process.env.APP_NAME = 'from-env';
  try {
    const c = configFrom(schema, { port: 9000, 'http.max_body': 2048, debug: true, 'http.timeout': 250 });
    assert.equal(c.port, 9000);
    assert.equal(c['http.max_body'], 2048);
    assert.equal(c.debug, true);
    assert.equal(c['http.timeout'], 250);
    assert.equal(c.name, 'app', 'keys not overridden keep their default (APP_NAME is not read)');
    assert.ok(Object.isFrozen(c));
  } finally {
    delete process.env.APP_NAME;
  }
});

test('configFrom: an unknown key, a bad value or a broken cross-field rule throws ConfigError naming it', () => {
  // A renamed key must not silently drop a host's setting.
  const unknown = { port: 9000, max_body: 1 } as unknown as Parameters<typeof configFrom<typeof schema>>[1];
  assert.throws(
    () => configFrom(schema, unknown),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.issues.some((i) => i.key === 'max_body' && i.rule === 'unknown key' && i.layer === 'override'),
  );
  assert.throws(
    () => configFrom(schema, { port: 0 }),
    (e: unknown) =>
      e instanceof ConfigError && e.issues.some((i) => i.key === 'port' && i.rule === 'must be ≥ 1'),
  );
  assert.throws(
    () =>
      configFrom(schema, { mode: 'b', debug: false }, (c) =>
        c.mode === 'b' && !c.debug ? [{ key: 'mode', rule: 'mode b needs debug' }] : [],
      ),
    (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.rule === 'mode b needs debug'),
  );
});
