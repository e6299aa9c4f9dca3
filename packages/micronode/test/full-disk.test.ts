// A full disk under the SQLite store (issue 11), repeated 3 times: a small tmpfs (or loop-mounted
// ext4) mounted by the test; the test fails, never skips, when neither can be mounted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertAllDurable, drain, fresh, killed, put, startSqlite } from './durable-helpers.js';

/** Mounts a small file system at `dir`: tmpfs, else a loop-mounted ext4 file. Throws when neither works. */
function mountSmall(dir: string, sizeKiB: number): () => void {
  mkdirSync(dir, { recursive: true });
  const errors: string[] = [];
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { stdio: 'pipe' });
    return () => execFileSync('umount', [dir]);
  } catch (err) {
    errors.push(`tmpfs: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  const img = `${dir}.img`;
  try {
    execFileSync('truncate', ['-s', `${sizeKiB}K`, img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', img, dir], { stdio: 'pipe' });
    return () => {
      execFileSync('umount', [dir]);
      rmSync(img, { force: true });
    };
  } catch (err) {
    errors.push(`loop ext4: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  throw new Error(
    `cannot mount a small file system for the full-disk test (run as root): ${errors.join('; ')}`,
  );
}

for (let round = 1; round <= 3; round++) {
  test(`a full disk answers 507, loses nothing acknowledged, keeps serving reads, and recovers when space returns (round ${round}/3)`, async () => {
    const base = fresh();
    const mnt = `${base}/small`;
    const unmount = mountSmall(mnt, 1024);
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
        const r = await put(p.url, 'full/again', 'y'.repeat(64 * 1024));
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
