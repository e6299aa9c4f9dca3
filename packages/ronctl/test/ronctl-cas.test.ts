// ronctl cas put|get against a real svc-storage (the gateway serves the same /v1/cas routes).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { blake3 } from 'hash-wasm';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';
import { ronctl } from './helpers.js';

const STORAGE_BIN = fileURLToPath(new URL('../../../storage/bin/svc-storage.js', import.meta.url));
const dir = tempDir('ronctl-cas-');
let p: Program;
let env: Record<string, string>;

before(async () => {
  p = await spawnProgram({
    bin: STORAGE_BIN,
    args: ['--bind', '127.0.0.1:0', '--data-dir', join(dir.path, 'store')],
  });
  env = { RON_GATEWAY_URL: p.url };
});
after(async () => {
  await p.stop('SIGTERM');
  dir.remove();
});

test('cas put prints the address (= BLAKE3 of the file); get -o writes the verified bytes', async () => {
  const data = Buffer.concat(
    Array.from({ length: 5000 }, (_, i) => createHash('sha256').update(String(i)).digest()),
  );
  const file = join(dir.path, 'in.bin');
  writeFileSync(file, data);
  const want = `b3:${await blake3(data)}`;
  const put = await ronctl(['cas', 'put', file], env);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, new RegExp(`^${want}  ${data.length} bytes, 3 chunks\\n$`));
  const again = await ronctl(['--json', 'cas', 'put', file], env);
  assert.deepEqual(JSON.parse(again.stdout), { addr: want, size: data.length, chunks: 3, created: false });
  const out = join(dir.path, 'out.bin');
  const get = await ronctl(['cas', 'get', want, '-o', out], env);
  assert.equal(get.code, 0, get.stderr);
  assert.ok(readFileSync(out).equals(data));
  assert.equal(existsSync(`${out}.part`), false);
  const stdout = await ronctl(['cas', 'get', want], env);
  assert.equal(stdout.code, 0);
  assert.ok(stdout.stdout.length > 0);
});

test('cas errors: bad address, unknown object, missing file, unreachable gateway — non-zero with a hint', async () => {
  const bad = await ronctl(['cas', 'get', 'b3:nope'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid address/);
  const missing = await ronctl(['cas', 'get', `b3:${'0'.repeat(64)}`, '-o', join(dir.path, 'x')], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NotFound/);
  assert.equal(existsSync(join(dir.path, 'x')), false);
  const nofile = await ronctl(['cas', 'put', join(dir.path, 'absent')], env);
  assert.equal(nofile.code, 1);
  assert.match(nofile.stderr, /ENOENT/);
  const down = await ronctl(['cas', 'put', join(dir.path, 'in.bin')], {
    RON_GATEWAY_URL: 'http://127.0.0.1:1',
  });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /RON_GATEWAY_URL/);
});
