// The storage plane through the gateway of a real macronode: /v1/cas streams both ways with the
// plane's own body cap, data under data_dir/storage.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rawRequest } from '@ron/testkit';
import { startNode } from './helpers.js';

function pseudo(n: number, seed: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
}

test('storage plane: upload, verified read, range, dedup and delete through the gateway', async () => {
  const n = await startNode({ env: { RON_STORAGE__MAX_OBJECT_BYTES: '8MiB' } });
  try {
    // Larger than the gateway's default 1 MiB cap: /v1/cas carries the plane's own cap.
    const data = pseudo(3 * 1024 * 1024 + 5, 1);
    const r = await fetch(`${n.gateway}/v1/cas`, { method: 'POST', body: data });
    assert.equal(r.status, 201);
    const { addr, size, chunks } = (await r.json()) as { addr: string; size: number; chunks: number };
    assert.match(addr, /^b3:[0-9a-f]{64}$/);
    assert.equal(size, data.length);
    assert.equal(chunks, 49);
    assert.equal((await fetch(`${n.gateway}/v1/cas`, { method: 'POST', body: data })).status, 200);
    const g = await fetch(`${n.gateway}/v1/cas/${addr}`);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('etag'), `"${addr}"`);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(data));
    const part = await fetch(`${n.gateway}/v1/cas/${addr}`, { headers: { range: 'bytes=65530-65545' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 65530-65545/${data.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(65530, 65546)));
    const stats = (await (await fetch(`${n.gateway}/v1/cas/stats`)).json()) as {
      objects: number;
      stored_bytes: number;
    };
    assert.deepEqual([stats.objects, stats.stored_bytes], [1, data.length]);
    // Over the plane's cap: 413 at the edge, before the body is read.
    const big = await rawRequest(
      Number(new URL(n.gateway).port),
      `POST /v1/cas HTTP/1.1\r\nHost: x\r\nContent-Length: ${9 * 1024 * 1024}\r\n\r\n`,
    );
    assert.equal(big.status, 413);
    assert.equal((await fetch(`${n.gateway}/v1/cas/b3:nothex`)).status, 400);
    assert.equal((await fetch(`${n.gateway}/v1/cas/${addr}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${n.gateway}/v1/cas/${addr}`)).status, 404);
    assert.ok(existsSync(join(n.dataDir, 'storage', 'store.db')));
    const st = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as {
      services: Record<string, { state: string }>;
    };
    assert.equal(st.services.storage?.state, 'running');
  } finally {
    await n.stop();
  }
});
