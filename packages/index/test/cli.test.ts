// svc-index's CLI: config print with sources, version, invalid config → 78, unknown flag → 64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '@ron/testkit';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/svc-index.js', import.meta.url));

test('config print shows every key with its source; env and flags layer over defaults', async () => {
  const r = await runProgram(BIN, ['config', 'print', '--json', '--storage-path', '/tmp/x.db'], {
    env: { INDEX_HISTORY_LIMIT: '7' },
  });
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout) as Record<string, { value: unknown; source?: string; layer?: string }>;
  assert.equal(cfg['storage.path']!.value, '/tmp/x.db');
  assert.equal(cfg['index.history_limit']!.value, 7);
});

test('invalid config exits 78 naming the key; an unknown flag exits 64; version prints', async () => {
  const bad = await runProgram(BIN, ['run'], { env: { INDEX_HISTORY_LIMIT: '0' } });
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /index\.history_limit/);
  const typo = await runProgram(BIN, ['run', '--bnd', 'x']);
  assert.equal(typo.code, 64);
  const v = await runProgram(BIN, ['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^svc-index /);
});
