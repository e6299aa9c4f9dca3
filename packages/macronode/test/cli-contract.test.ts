// issue 9 items 8–11 through the real bin: a typo never starts the daemon (64), one exit-code table
// shown in --help, `check` exits 78, a TOML syntax error is `path:line:col` with its caret line, and
// a misspelled RON_ variable is a warning naming the closest real one.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runProgram, tempDir } from '@ron/testkit';
import { BIN } from './helpers.js';

const dir = tempDir('macronode-cli-contract-');
after(() => dir.remove());
const clean = { RON_CONFIG: undefined, RON_ADMIN_TOKEN: undefined, LOG_LEVEL: undefined, RON_LOG: undefined };

// A liveness bound only (the machine is shared): a CLI that starts the daemon never exits at all.
const SLOW = 90_000;

test('usage errors exit 64 naming the closest command and start nothing (`macronode stauts`)', async () => {
  // The old CLI took `stauts` as an argument of the default `run` and started the daemon: this run
  // would never have exited.
  const typo = await runProgram(
    BIN,
    ['stauts', '--http-addr', '127.0.0.1:0', '--gateway-addr', '127.0.0.1:0', '--amnesia'],
    {
      env: clean,
    },
  );
  assert.equal(typo.code, 64, typo.stderr);
  assert.match(typo.stderr, /unknown command 'stauts' \(did you mean \w+\?\)/);
  assert.equal(typo.stdout, '', 'no log line: nothing started');
  for (const args of [
    ['run', '--no-such-flag'],
    ['run', 'stray-argument'],
    ['check', '--bogus'],
  ]) {
    const r = await runProgram(BIN, args, { env: clean, timeoutMs: SLOW });
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
  }
  const sub = await runProgram(BIN, ['config', 'prnt'], { env: clean, timeoutMs: SLOW });
  assert.equal(sub.code, 64, sub.stderr);
  assert.match(sub.stderr, /did you mean print\?/i);
});

test('one exit-code table in --help; `check` exits 78 on an invalid config', async () => {
  for (const args of [['--help'], ['check', '--help']]) {
    const h = await runProgram(BIN, args, { env: clean, timeoutMs: SLOW });
    assert.equal(h.code, 0, h.stderr);
    for (const code of ['0', '64', '65', '69', '78'])
      assert.match(h.stdout, new RegExp(`^  ${code} `, 'm'), `${args.join(' ')}: ${code}`);
  }
  const bad = await runProgram(BIN, ['check'], { env: { ...clean, RON_SERVICES: 'warp' }, timeoutMs: SLOW });
  assert.equal(bad.code, 78, bad.stderr);
});

test('a TOML syntax error is reported once as path:line:col with the caret line', async () => {
  const file = join(dir.path, 'broken.toml');
  writeFileSync(file, 'log_level = "info"\n\n[kv]\nstorage_engine = = "mem"\n');
  for (const args of [
    ['check', '--config', file],
    ['config', 'validate', file],
  ]) {
    const r = await runProgram(BIN, args, { env: clean, timeoutMs: SLOW });
    assert.equal(r.code, 78, r.stderr);
    assert.ok(r.stderr.includes(`${file}:4:18: invalid TOML`), r.stderr);
    assert.equal(r.stderr.split(file).length - 1, 1, `the path is printed once:\n${r.stderr}`);
    assert.match(r.stderr, /4: {2}storage_engine = = "mem"\n\s+\^/);
  }
  const json = join(dir.path, 'broken.json');
  writeFileSync(json, '{\n  "log_level": "info",\n}\n');
  const j = await runProgram(BIN, ['check', '--config', json], { env: clean, timeoutMs: SLOW });
  assert.equal(j.code, 78, j.stderr);
  assert.ok(j.stderr.includes(`${json}:3:1: invalid JSON: Expected double-quoted property name`), j.stderr);
  assert.match(j.stderr, /3: {2}}\n\s+\^/);
});

test('a RON_ variable that names no setting is a warning naming the closest one', async () => {
  const r = await runProgram(BIN, ['check'], { env: { ...clean, RON_LOG_LEVEL: 'loud' }, timeoutMs: SLOW });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /RON_LOG_LEVEL is not a setting; did you mean RON_LOG\?/);
  const t = await runProgram(BIN, ['check'], {
    env: { ...clean, RON_ADMN_TOKEN: 'x', MACRONODE_DEV_REDY: '1' },
    timeoutMs: SLOW,
  });
  assert.match(t.stderr, /RON_ADMN_TOKEN is not a setting; did you mean RON_ADMIN_TOKEN\?/);
  assert.match(t.stderr, /MACRONODE_DEV_REDY is not a setting; did you mean MACRONODE_DEV_READY\?/);
  // ronctl's own variables share the prefix and are not flagged.
  const ok = await runProgram(BIN, ['check'], {
    env: { ...clean, RON_REGISTRY_URL: 'http://127.0.0.1:9444' },
    timeoutMs: SLOW,
  });
  assert.doesNotMatch(ok.stderr, /not a setting/);
});

test('config print shows the effective config even when it is invalid, then the problems (78)', async () => {
  const r = await runProgram(BIN, ['config', 'print'], {
    env: { ...clean, RON_SERVICES: 'kv,warp' },
    timeoutMs: SLOW,
  });
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stdout, /^http_addr\s+= "127\.0\.0\.1:8080"/m);
  assert.match(r.stderr, /services: unknown plane "warp"/);
});
