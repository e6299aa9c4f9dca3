// A full disk under the SQLite store (issue 11), repeated 3 times: a small tmpfs (or loop-mounted
// ext4) mounted by the test; the test fails, never skips, when neither can be mounted.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mountSmallFs } from '@ron/testkit';
import { test } from 'node:test';
import { assertAllDurable, drain, fresh, killed, put, startSqlite } from './durable-helpers.js';

for (let round = 1; round <= 3; round++) {
  test(`a full disk answers 507, loses nothing acknowledged, keeps serving reads, and recovers when space returns (round ${round}/3)`, async () => {
    const base = fresh();
    const mnt = `${base}/small`;
    const unmount = mountSmallFs(mnt, 1024);
    const path = `${mnt}/kv.db`;
    const acked = new Map<string, string>();
    try {
      // Room to free later: recovery after the disk was full.
      writeFileSync(`${mnt}/ballast`, Buffer.alloc(192 * 1024, 1));
      const p = await startSqlite(path);
      try {
        let full = 0;
        const others: number[] = [];
        // Concurrent writers, so the disk fills up inside batches too.
        for (let i = 0; i < 400 && full === 0; i += 4) {
          const batch = [0, 1, 2, 3].map((j) => ({
            key: `full/k${i + j}`,
            body: `${round}-${i + j}-`.padEnd(16 * 1024, 'z'),
          }));
          const statuses = await Promise.all(batch.map((b) => put(p.url, b.key, b.body).then(drain)));
          statuses.forEach((s, j) => {
            if (s === 201) acked.set(batch[j]!.key, batch[j]!.body);
            else if (s === 507) full++;
            else others.push(s);
          });
        }
        assert.deepEqual(others, [], 'only 201 or 507');
        assert.ok(full > 0, 'the disk filled up and the node said so with 507');
        assert.ok(acked.size > 0);
        // A checkpoint may hand a few pages back after the failure: write until the disk says full
        // again (bounded), keeping what it acknowledged, and read the refusal's envelope.
        let r = await put(p.url, 'full/again0', 'y'.repeat(64 * 1024));
        for (let k = 1; r.status === 201 && k < 50; k++) {
          await r.arrayBuffer();
          acked.set(`full/again${k - 1}`, 'y'.repeat(64 * 1024));
          r = await put(p.url, `full/again${k}`, 'y'.repeat(64 * 1024));
        }
        assert.equal(r.status, 507);
        const env = (await r.json()) as { error: { code: string; retryable: boolean } };
        assert.equal(env.error.code, 'InsufficientStorage');
        // Reads keep working and see every acknowledged write.
        assert.equal((await fetch(`${p.url}/healthz`)).status, 200);
        await assertAllDurable(p.url, acked);
        // Space comes back: writes work again.
        rmSync(`${mnt}/ballast`);
        assert.equal(await drain(await put(p.url, 'full/after', 'ok')), 201);
        acked.set('full/after', 'ok');
      } finally {
        await killed(p);
      }
      // What is on the small disk after the kill holds every acknowledged write: copy the files
      // (database and WAL) to a roomy directory and open them there.
      const copy = `${base}/copy`;
      mkdirSync(copy);
      for (const f of ['kv.db', 'kv.db-wal'])
        if (existsSync(`${mnt}/${f}`)) copyFileSync(`${mnt}/${f}`, `${copy}/${f}`);
      const q = await startSqlite(`${copy}/kv.db`);
      try {
        await assertAllDurable(q.url, acked);
      } finally {
        await q.stop();
      }
    } finally {
      unmount();
    }
  });
}
