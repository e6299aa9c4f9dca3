// Durability on SQLite across a real restart; amnesia and mem leave nothing on disk.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, test } from 'node:test';
import { tempDir, type Program } from '@ron/testkit';
import { startNode } from './helpers.js';

const dirs: { remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
});
function fresh(): string {
  const d = tempDir();
  dirs.push(d);
  return d.path;
}

async function stopped(p: Program): Promise<void> {
  const exit = await p.stop('SIGTERM');
  assert.equal(exit.code, 0);
}

test('SQLite: values written before SIGTERM are read back after a restart on the same file', async () => {
  const path = `${fresh()}/nested/dir/kv.db`;
  const env = { MICRONODE_STORAGE_ENGINE: 'sqlite', MICRONODE_STORAGE_PATH: path };
  const value = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
  const first = await startNode(env);
  let etag: string | null;
  try {
    assert.equal(first.ready.engine, 'sqlite');
    const put = await fetch(`${first.url}/v1/kv/keep/bytes`, { method: 'PUT', body: value });
    assert.equal(put.status, 201);
    etag = put.headers.get('etag');
    assert.equal((await fetch(`${first.url}/v1/kv/keep/gone`, { method: 'PUT', body: 'x' })).status, 201);
    assert.equal((await fetch(`${first.url}/v1/kv/keep/gone`, { method: 'DELETE' })).status, 204);
  } finally {
    await stopped(first);
  }
  assert.ok(existsSync(path));

  const second = await startNode(env);
  try {
    const get = await fetch(`${second.url}/v1/kv/keep/bytes`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('etag'), etag);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), value);
    assert.equal((await fetch(`${second.url}/v1/kv/keep/gone`)).status, 404);
    const list = (await (await fetch(`${second.url}/v1/kv/keep`)).json()) as { keys: string[] };
    assert.deepEqual(list.keys, ['bytes']);
    // Overwrite after restart is a replace, not a create.
    assert.equal((await fetch(`${second.url}/v1/kv/keep/bytes`, { method: 'PUT', body: 'new' })).status, 204);
  } finally {
    await stopped(second);
  }
});

test('the default engine is SQLite at ./_data/micronode.db relative to the working directory', async () => {
  const cwd = fresh();
  const p = await startNode(
    { MICRONODE_STORAGE_ENGINE: undefined, MICRONODE_STORAGE_PATH: undefined, MICRONODE_AMNESIA: undefined },
    [],
    cwd,
  );
  try {
    assert.equal(p.ready.engine, 'sqlite');
    assert.equal((await fetch(`${p.url}/v1/kv/b/k`, { method: 'PUT', body: 'v' })).status, 201);
  } finally {
    await stopped(p);
  }
  assert.ok(existsSync(`${cwd}/_data/micronode.db`));
});

test('amnesia: the default sqlite engine is replaced by mem and nothing is written to the working directory', async () => {
  const cwd = fresh();
  const p = await startNode(
    { MICRONODE_AMNESIA: '1', MICRONODE_STORAGE_ENGINE: undefined, MICRONODE_STORAGE_PATH: undefined },
    [],
    cwd,
  );
  try {
    assert.equal(p.ready.engine, 'mem');
    assert.equal(p.ready.path, null);
    for (let i = 0; i < 20; i++)
      assert.equal(
        (await fetch(`${p.url}/v1/kv/b/k${i}`, { method: 'PUT', body: Buffer.alloc(4096, i) })).status,
        201,
      );
    assert.equal((await fetch(`${p.url}/v1/kv/b/k7`)).status, 200);
    assert.deepEqual(readdirSync(cwd), []);
  } finally {
    await stopped(p);
  }
  assert.deepEqual(readdirSync(cwd), [], 'the directory stays empty after shutdown too');

  // And a restart starts empty: nothing survived.
  const again = await startNode({ MICRONODE_AMNESIA: '1', MICRONODE_STORAGE_ENGINE: undefined }, [], cwd);
  try {
    assert.equal((await fetch(`${again.url}/v1/kv/b/k7`)).status, 404);
  } finally {
    await stopped(again);
  }
  assert.deepEqual(readdirSync(cwd), []);
});

test('amnesia with an explicit storage path still writes nothing there', async () => {
  const d = fresh();
  const p = await startNode(
    { MICRONODE_AMNESIA: '1', MICRONODE_STORAGE_ENGINE: undefined, MICRONODE_STORAGE_PATH: `${d}/x.db` },
    [],
    d,
  );
  try {
    assert.equal((await fetch(`${p.url}/v1/kv/b/k`, { method: 'PUT', body: 'v' })).status, 201);
  } finally {
    await stopped(p);
  }
  assert.deepEqual(readdirSync(d), []);
});
