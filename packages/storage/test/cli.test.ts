// svc-storage as a program: config print, exit codes (78 config, 69 store owned by another process, 64 usage).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runProgram } from '@ron/testkit';
import { BIN, fresh, removeDirs, startStorage, stopped } from './helpers.js';

after(removeDirs);

test('config print shows each value with its source; version prints build info', async () => {
  const r = await runProgram(BIN, ['config', 'print', '--max-bytes', '1GiB'], {
    env: { STORAGE_GC__BATCH: '64', STORAGE_CONFIG: undefined },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^storage\.max_bytes\s+= 1073741824\s+# flag \(--max-bytes\)$/m);
  assert.match(r.stdout, /^gc\.batch\s+= 64\s+# env \(STORAGE_GC__BATCH\)$/m);
  assert.match(r.stdout, /^storage\.max_object_bytes\s+= 67108864\s+# default$/m);
  const v = await runProgram(BIN, ['version']);
  assert.match(v.stdout, /^svc-storage /);
});

test('invalid config exits 78 listing every error; an unknown flag exits 64', async () => {
  const r = await runProgram(BIN, ['--max-object-bytes', 'lots'], {
    env: { STORAGE_CONFIG: undefined, STORAGE_MAX_INFLIGHT: 'many' },
  });
  assert.equal(r.code, 78);
  assert.match(
    r.stderr,
    /limits\.max_inflight: must be an integer \(got "many" from env STORAGE_MAX_INFLIGHT\)/,
  );
  assert.match(r.stderr, /storage\.max_object_bytes/);
  const u = await runProgram(BIN, ['--no-such-flag']);
  assert.equal(u.code, 64);
});

test('a store owned by a running svc-storage: a second one exits 69 naming the cause', async () => {
  const dir = fresh();
  const p = await startStorage(dir);
  try {
    const r = await runProgram(BIN, ['--bind', '127.0.0.1:0', '--data-dir', dir]);
    assert.equal(r.code, 69);
    assert.match(r.stderr, /in use by another process/);
  } finally {
    await stopped(p);
  }
});
