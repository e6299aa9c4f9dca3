import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';

const BIN = fileURLToPath(new URL('../../bin/micronode.js', import.meta.url));
let prog: Program;
const dir = tempDir();

before(async () => {
  prog = await spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0'],
    env: { MICRONODE_STORAGE_PATH: `${dir.path}/kv.db` },
  });
});
after(async () => {
  await prog.stop();
  dir.remove();
});

test('real process: ready, KV round trip, and a clean SIGTERM exit', async () => {
  const ready = await fetch(`${prog.url}/readyz`);
  assert.equal(ready.status, 200);
  const put = await fetch(`${prog.url}/v1/kv/b/k`, { method: 'PUT', body: 'v' });
  assert.equal(put.status, 201);
  const get = await fetch(`${prog.url}/v1/kv/b/k`);
  assert.equal(await get.text(), 'v');
  const exit = await prog.stop('SIGTERM');
  assert.equal(exit.code, 0);
});
