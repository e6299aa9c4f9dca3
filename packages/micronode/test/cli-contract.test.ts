// issue 9 items 8, 9, 11 through the real bin: a typo starts nothing (64), the exit-code table in
// --help, misspelled MICRONODE_ variables warn.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '@ron/testkit';
import { BIN } from './helpers.js';

const clean: Record<string, string | undefined> = { MICRONODE_CONFIG: undefined, LOG_LEVEL: undefined };

// A liveness bound only (the machine is shared): a CLI that starts the daemon never exits at all.
const SLOW = 90_000;

test('`micronode stauts` exits 64 naming the closest command and starts nothing', async () => {
  const r = await runProgram(BIN, ['stauts', '--bind', '127.0.0.1:0', '--amnesia'], {
    env: clean,
    timeoutMs: SLOW,
  });
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /unknown command 'stauts' \(did you mean \w+\?\)/);
  assert.equal(r.stdout, '');
  for (const args of [
    ['run', '--amnesia', '--frob'],
    ['run', '--amnesia', 'extra'],
  ]) {
    const u = await runProgram(BIN, args, { env: clean, timeoutMs: SLOW });
    assert.equal(u.code, 64, `${args.join(' ')}: ${u.stderr}`);
  }
  const h = await runProgram(BIN, ['--help'], { env: clean, timeoutMs: SLOW });
  assert.equal(h.code, 0);
  for (const code of ['0', '64', '65', '69', '78']) assert.match(h.stdout, new RegExp(`^  ${code} `, 'm'));
});

test('a MICRONODE_ variable that names no setting is a warning naming the closest one', async () => {
  const r = await runProgram(BIN, ['config', 'print'], {
    env: { ...clean, MICRONODE_BIDN: '127.0.0.1:1' },
    timeoutMs: SLOW,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /MICRONODE_BIDN is not a setting; did you mean MICRONODE_BIND\?/);
});
