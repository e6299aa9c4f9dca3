import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { runProgram, tempDir } from '@ron/testkit';
import { loadMacronodeConfig } from '../src/config.js';
import { BIN, startNode } from './helpers.js';

const dir = tempDir('macronode-cli-');
after(() => dir.remove());
const clean = {
  RON_CONFIG: undefined,
  RON_ADMIN_TOKEN: undefined,
  MACRO_HTTP_ADDR: undefined,
  LOG_LEVEL: undefined,
};

test('config precedence: defaults < file < env < flags (property)', () => {
  const file = join(dir.path, 'prec.toml');
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.boolean(), (inFile, inEnv, inFlag) => {
      writeFileSync(file, inFile ? 'gateway_addr = "127.0.0.1:1001"\n' : '');
      const env = inEnv ? { RON_GATEWAY_ADDR: '127.0.0.1:1002' } : {};
      const flags = inFlag ? { gatewayAddr: '127.0.0.1:1003' } : {};
      const l = loadMacronodeConfig({ file, env, flags });
      const want = inFlag ? '1003' : inEnv ? '1002' : inFile ? '1001' : '8090';
      assert.equal(l.config.gateway_addr, `127.0.0.1:${want}`);
      assert.equal(
        l.sources.gateway_addr.layer,
        inFlag ? 'flag' : inEnv ? 'env' : inFile ? 'file' : 'default',
      );
    }),
    { numRuns: 16 },
  );
});

test('deprecated MACRO_* alias is accepted with a warning naming the new variable', () => {
  const l = loadMacronodeConfig({ env: { MACRO_GATEWAY_ADDR: '127.0.0.1:7777' }, flags: {} });
  assert.equal(l.config.gateway_addr, '127.0.0.1:7777');
  assert.deepEqual(l.warnings, ['MACRO_GATEWAY_ADDR is deprecated; use RON_GATEWAY_ADDR instead']);
  // The canonical name wins over the alias.
  assert.equal(
    loadMacronodeConfig({ env: { MACRO_GATEWAY_ADDR: '127.0.0.1:1', RON_GATEWAY_ADDR: '127.0.0.1:2' } })
      .config.gateway_addr,
    '127.0.0.1:2',
  );
});

test('run with a deprecated MACRO_* env logs the warning (real process)', async () => {
  const n = await startNode({ env: { MACRO_AMNESIA: '1' } });
  try {
    await n.prog.waitForLine(
      (l) =>
        l.event === 'config_warning' &&
        String(l.msg).includes('MACRO_AMNESIA is deprecated; use RON_AMNESIA'),
    );
    const s = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as { amnesia: boolean };
    assert.equal(s.amnesia, true);
  } finally {
    await n.stop();
  }
});

test('run exits 78 on invalid config, listing every error with key, layer and rule', async () => {
  const file = join(dir.path, 'bad.toml');
  writeFileSync(file, 'read_timeout = "soon"\nunknown_thing = 1\n');
  const r = await runProgram(BIN, ['run', '--config', file], { env: { ...clean, RON_AMNESIA: 'maybe' } });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /invalid configuration \(3 errors\)/);
  assert.match(r.stderr, /unknown_thing: unknown key/);
  assert.match(r.stderr, /read_timeout: must be a duration .*from file/);
  assert.match(r.stderr, /amnesia: must be a boolean .*from env RON_AMNESIA/);
  // Cross-field rules (run once every value parses) also exit 78, each error listed.
  const r2 = await runProgram(BIN, ['run', '--http-addr', 'nope'], {
    env: { ...clean, RON_SERVICES: 'kv,warp' },
  });
  assert.equal(r2.code, 78);
  assert.match(r2.stderr, /services: unknown plane "warp"/);
  assert.match(r2.stderr, /http_addr: must be HOST:PORT .*from flag --http-addr/);
});

test('a non-loopback admin listener without TLS and without a token refuses to start (78)', async () => {
  const r = await runProgram(
    BIN,
    ['run', '--http-addr', '0.0.0.0:0', '--gateway-addr', '127.0.0.1:0', '--amnesia'],
    { env: clean },
  );
  assert.equal(r.code, 78);
  assert.match(r.stderr, /http_addr: a non-loopback admin listener needs TLS .* or admin_token/);
  const withToken = await runProgram(BIN, ['check', '--http-addr', '0.0.0.0:0'], {
    env: { ...clean, RON_ADMIN_TOKEN: 't' },
  });
  assert.equal(withToken.code, 0, withToken.stderr);
});

test('check: exit 0 on a good config, 78 on a bad one; binds nothing', async () => {
  const good = join(dir.path, 'good.toml');
  writeFileSync(good, 'log_level = "debug"\n[supervisor]\nmax_restarts = 3\n');
  const ok = await runProgram(BIN, ['check', '--config', good], { env: clean });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /config ok/);
  const bad = await runProgram(BIN, ['check'], { env: { ...clean, RON_READ_TIMEOUT: 'soon' } });
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /read_timeout: must be a duration/);
});

test('config validate [PATH]: exit 0 valid, 78 invalid; config print shows sources and redacts the token', async () => {
  const good = join(dir.path, 'v.json');
  writeFileSync(good, JSON.stringify({ data_dir: '/tmp/x', kv: { storage_engine: 'mem' } }));
  const v = await runProgram(BIN, ['config', 'validate', good], { env: clean });
  assert.equal(v.code, 0, v.stderr);
  const badFile = join(dir.path, 'v-bad.toml');
  writeFileSync(badFile, '[kv]\nstorage_engine = "floppy"\n');
  const vb = await runProgram(BIN, ['config', 'validate', badFile], { env: clean });
  assert.equal(vb.code, 78);
  assert.match(vb.stderr, /kv\.storage_engine: must be one of mem, sqlite/);
  const p = await runProgram(BIN, ['config', 'print', '--config', good, '--http-addr', '127.0.0.1:9'], {
    env: { ...clean, RON_ADMIN_TOKEN: 'hunter2' },
  });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /http_addr\s+= "127\.0\.0\.1:9"\s+# flag \(--http-addr\)/);
  assert.match(p.stdout, /data_dir\s+= "\/tmp\/x"\s+# file/);
  assert.match(p.stdout, /admin_token\s+= "\*\*\*"\s+# env \(RON_ADMIN_TOKEN\)/);
  assert.ok(!p.stdout.includes('hunter2'));
});

test('doctor: exit 0 on a healthy host, non-zero with a fail line when the data dir is unusable', async () => {
  const ok = await runProgram(
    BIN,
    [
      'doctor',
      '--data-dir',
      join(dir.path, 'data'),
      '--http-addr',
      '127.0.0.1:0',
      '--gateway-addr',
      '127.0.0.1:0',
    ],
    {
      env: clean,
    },
  );
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  for (const name of ['config', 'node version', 'clock', 'data dir', 'kv store'])
    assert.match(ok.stdout, new RegExp(`^ok\\s+${name}:`, 'm'));
  const blocker = join(dir.path, 'a-file');
  writeFileSync(blocker, 'x');
  const bad = await runProgram(
    BIN,
    [
      'doctor',
      '--data-dir',
      join(blocker, 'sub'),
      '--http-addr',
      '127.0.0.1:0',
      '--gateway-addr',
      '127.0.0.1:0',
    ],
    {
      env: clean,
    },
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^fail data dir:/m);
});

test('version and --help', async () => {
  const v = await runProgram(BIN, ['version'], { env: clean });
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^macronode /);
  const h = await runProgram(BIN, ['run', '--help'], { env: clean });
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--gateway-addr <addr>/);
  assert.match(h.stdout, /SIGHUP = reload config/);
});
