// svc-mailbox's CLI: config print with sources, version, invalid config → 78, unknown flag → 64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '@ron/testkit';
import { BIN } from './helpers.js';

test('config print shows every key with its source; env and flags layer over defaults', async () => {
  const r = await runProgram(BIN, ['config', 'print', '--json', '--max-message-bytes', '64KiB'], {
    env: { MAILBOX_MAX_RECEIVES: '7' },
  });
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout) as Record<string, { value: unknown; source?: string; layer?: string }>;
  assert.equal(cfg['mailbox.max_message_bytes']!.value, 64 * 1024);
  assert.equal(cfg['mailbox.max_receives']!.value, 7);
  assert.equal(cfg['mailbox.dedup_window']!.value, 300_000);
});

test('invalid config exits 78 naming the key; an unknown flag exits 64; version prints', async () => {
  const bad = await runProgram(BIN, ['run'], { env: { MAILBOX_MAX_RECEIVES: '0' } });
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /mailbox\.max_receives/);
  const typo = await runProgram(BIN, ['run', '--bnd', 'x']);
  assert.equal(typo.code, 64);
  const v = await runProgram(BIN, ['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^svc-mailbox /);
});
