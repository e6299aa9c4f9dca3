// issue 9 items 8, 9, 11, 12 through the real bin: a typo starts nothing (64), the exit-code table
// in --help, misspelled REGISTRY_ variables warn, `config print` prints even an invalid config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '@ron/testkit';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));
const clean: Record<string, string | undefined> = {
  SIGNER_ALLOWLIST: undefined,
  SIG_THRESHOLD: undefined,
  REGISTRY_CONFIG: undefined,
};

// A liveness bound only (the machine is shared): a CLI that starts the daemon never exits at all.
const SLOW = 90_000;

test('`svc-registry frobnicate --dev` exits 64 naming the closest command and starts nothing', async () => {
  const r = await runProgram(
    BIN,
    ['frobnicate', '--dev', '--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'],
    { env: clean },
  );
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /unknown command 'frobnicate' \(did you mean \w+\?\)/);
  assert.equal(r.stdout, '');
  for (const args of [
    ['run', '--dev', '--frob'],
    ['run', '--dev', 'extra'],
    ['config', 'print', '--nope'],
  ]) {
    const u = await runProgram(BIN, args, { env: clean, timeoutMs: SLOW });
    assert.equal(u.code, 64, `${args.join(' ')}: ${u.stderr}`);
    assert.equal(u.stdout, '', args.join(' '));
  }
});

test('--help ends with the one exit-code table', async () => {
  for (const args of [['--help'], ['run', '--help']]) {
    const h = await runProgram(BIN, args, { env: clean, timeoutMs: SLOW });
    assert.equal(h.code, 0, h.stderr);
    for (const code of ['0', '64', '65', '69', '78']) assert.match(h.stdout, new RegExp(`^  ${code} `, 'm'));
  }
});

test('config print: the effective config without signers, then its problems (78); --dev shows no SQLite path', async () => {
  const r = await runProgram(BIN, ['config', 'print'], { env: clean, timeoutMs: SLOW });
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stdout, /^governance\.threshold\s+= 1\s+# default/m);
  assert.match(r.stdout, /^db\s+= "\.\/_data\/registry\.db"/m);
  assert.match(r.stderr, /sig_threshold 1 exceeds the 0 allow-listed signers/);
  const dev = await runProgram(BIN, ['config', 'print', '--dev'], { env: clean, timeoutMs: SLOW });
  assert.equal(dev.code, 0, dev.stderr);
  assert.match(dev.stdout, /^db\s+= null\s+# unused: --dev keeps the log in memory/m);
  assert.doesNotMatch(dev.stdout, /registry\.db/);
  const j = await runProgram(BIN, ['config', 'print', '--dev', '--json'], { env: clean, timeoutMs: SLOW });
  assert.equal((JSON.parse(j.stdout) as Record<string, { value: unknown }>).db!.value, null);
});

test('a REGISTRY_ variable that names no setting is a warning naming the closest one', async () => {
  const r = await runProgram(BIN, ['config', 'print', '--dev'], {
    env: { ...clean, REGISTRY_DBB: '/tmp/x.db' },
    timeoutMs: SLOW,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /REGISTRY_DBB is not a setting; did you mean REGISTRY_DB\?/);
});
