import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadMacronodeConfig, schema } from '../../src/config.js';
import { childSpec, ownConfig, planeOptions, type PlaneModule } from '../../src/planes/plane.js';
import { PLANES, PLANE_NAMES, planeModule } from '../../src/planes/table.js';

// A plane is one folder and one table entry: its config section, its `services` name, its child
// spec and its options all derive from its module (planes/table.ts).

const modules = Object.entries(PLANES) as [string, PlaneModule][];

test('every plane section is in the schema under <plane>. (the same field objects), and nothing else is', () => {
  for (const [name, mod] of modules) {
    assert.equal(mod.name, name, 'a table key is its module name');
    for (const [k, f] of Object.entries(mod.config))
      assert.equal((schema as Record<string, unknown>)[`${name}.${k}`], f, `${name}.${k}`);
    for (const k of ['restart', 'critical', 'shutdown_ms'])
      assert.ok(k in mod.config, `${name} has the child spec key ${k}`);
  }
  const prefixed = Object.keys(schema).filter((k) => modules.some(([n]) => k.startsWith(`${n}.`)));
  const declared = modules.flatMap(([n, m]) => Object.keys(m.config).map((k) => `${n}.${k}`));
  assert.deepEqual(prefixed.sort(), declared.sort(), 'every <plane>.* key comes from a plane module');
});

test('services names derive from the table in start order; the gateway is always on and not listed', () => {
  assert.deepEqual(
    PLANE_NAMES,
    modules.filter(([, m]) => m.alwaysOn !== true).map(([n]) => n),
  );
  assert.ok(!PLANE_NAMES.includes('gateway'));
  assert.equal(planeModule('gateway')?.alwaysOn, true);
  assert.equal(planeModule('toString'), undefined, 'no prototype key is a plane');
  assert.throws(() => loadMacronodeConfig({ env: { RON_SERVICES: 'kv,bogus' } }), /unknown plane "bogus"/);
});

test('a plane section set in any layer reaches its child spec and options (typed, no string casts)', () => {
  const c = loadMacronodeConfig({
    env: { RON_KV__SHUTDOWN_MS: '7s', RON_KV__RESTART: 'transient', RON_STORAGE__MAX_OBJECT_BYTES: '2MiB' },
  }).config;
  const kv = planeModule('kv')!;
  assert.deepEqual(childSpec(kv, c), { restart: 'transient', critical: true, shutdownMs: 7000 });
  const storage = planeModule('storage')!;
  assert.equal(ownConfig(storage, c).max_object_bytes, 2 * 1024 * 1024);
  assert.equal(planeOptions(storage, c).max_object_bytes, 2 * 1024 * 1024);
  assert.equal(storage.bodyCap?.(ownConfig(storage, c), c), 2 * 1024 * 1024);
  // Defaults come from the plane's declaration: the gateway's grace covers its drain.
  assert.equal(childSpec(planeModule('gateway')!, c).shutdownMs, 12_000);
  assert.throws(() => loadMacronodeConfig({ env: { RON_KV__NO_SUCH_KEY: '1' } }), /kv\.no_such_key/);
});
