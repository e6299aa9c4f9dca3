// A full disk under a real svc-registry on SQLite (issue 11), 3 rounds: a small tmpfs (or loop-mounted
// ext4) mounted by the test — the test fails, never skips, when neither can be mounted. Commits go in
// groups of four signed for consecutive versions, so the disk fills up inside a batch too. The
// registry answers 507 InsufficientStorage for the write that met the full disk (503 for the ones
// sealed on top of it), loses no acknowledged commit, keeps serving reads, takes commits again once
// space returns, and what is on the small disk after a kill -9 is a valid chain holding every
// acknowledged commit.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mountSmallFs } from '@ron/testkit';
import { type Head } from '../src/log-entry.js';
import { assertAllAcknowledged, commitSigned, durableRig, head } from './durable-helpers.js';

const rig = await durableRig('ron-registry-full-');
const commit = (url: string, version: number, payload: string): Promise<{ status: number; body: unknown }> =>
  commitSigned(url, rig.key, version, payload);

for (let round = 1; round <= 3; round++) {
  test(`a full disk answers 507, loses no acknowledged commit, keeps serving reads and recovers (round ${round}/3)`, async () => {
    const base = join(rig.dir, `r${round}`);
    const mnt = join(base, 'small');
    const unmount = mountSmallFs(mnt, 1024);
    const db = join(mnt, 'registry.db');
    const acked = new Map<number, string>();
    try {
      // Room to free later: recovery after the disk was full.
      writeFileSync(join(mnt, 'ballast'), Buffer.alloc(192 * 1024, 1));
      const p = await rig.spawn(db);
      try {
        const statuses = new Map<number, number>();
        let full = 0;
        for (let i = 0; i < 2000 && full === 0; i += 4) {
          const h = (await head(p.url)).version;
          const group = [1, 2, 3, 4].map((k) => ({ v: h + k, payload: `b3:r${round}-${h + k}` }));
          const answers = await Promise.all(group.map((c) => commit(p.url, c.v, c.payload)));
          answers.forEach((a, k) => {
            statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
            if (a.status === 200) {
              assert.equal((a.body as Head).version, group[k]!.v);
              acked.set(group[k]!.v, group[k]!.payload);
            } else if (a.status === 507) full++;
          });
        }
        assert.ok(
          full > 0,
          `the disk filled up and the registry said so with 507 (${JSON.stringify([...statuses])})`,
        );
        // 200, 507 for the write that met the full disk, 503 for one sealed on top of it, 422 for one
        // that waited in the reorder window for a version that failed: nothing else.
        for (const s of statuses.keys()) assert.ok([200, 503, 507, 422].includes(s), `status ${s}`);
        assert.ok(acked.size > 0);

        // A checkpoint may hand a few pages back after the failure: commit one at a time until the
        // disk says full again (bounded), keeping what was acknowledged; read the refusal's envelope.
        let refusal: { status: number; body: unknown } | undefined;
        for (let k = 0; k < 200 && refusal === undefined; k++) {
          const v = (await head(p.url)).version + 1;
          const r = await commit(p.url, v, `b3:again${round}-${v}`);
          if (r.status === 200) acked.set(v, `b3:again${round}-${v}`);
          else refusal = r;
        }
        assert.equal(refusal?.status, 507);
        const envelope = refusal.body as { error: { code: string; message: string } };
        assert.equal(envelope.error.code, 'InsufficientStorage');
        assert.match(envelope.error.message, /disk/);

        // Reads keep working and see every acknowledged commit.
        assert.equal((await fetch(`${String(p.ready.admin_url)}/healthz`)).status, 200);
        const ready = (await (await fetch(`${String(p.ready.admin_url)}/readyz`)).json()) as {
          write_ready: boolean;
        };
        assert.equal(ready.write_ready, false, 'a store that could not write says so on /readyz');
        await assertAllAcknowledged(p.url, acked, `round ${round}, full`);

        // Space comes back: commits work again.
        rmSync(join(mnt, 'ballast'));
        const v = (await head(p.url)).version + 1;
        const r = await commit(p.url, v, `b3:after${round}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        acked.set(v, `b3:after${round}`);
        const again = (await (await fetch(`${String(p.ready.admin_url)}/readyz`)).json()) as {
          write_ready: boolean;
        };
        assert.equal(again.write_ready, true, 'a successful write clears the degraded state');
      } finally {
        const k = await p.stop('SIGKILL');
        assert.equal(k.signal, 'SIGKILL');
      }
      // What is on the small disk after the kill holds every acknowledged commit: copy the files
      // (database and WAL) to a roomy directory and start a registry on them (it replays and
      // verifies the chain before it is ready).
      const copy = join(base, 'copy');
      mkdirSync(copy);
      for (const f of ['registry.db', 'registry.db-wal'])
        if (existsSync(join(mnt, f))) copyFileSync(join(mnt, f), join(copy, f));
      const q = await rig.spawn(join(copy, 'registry.db'));
      try {
        await assertAllAcknowledged(q.url, acked, `round ${round}, after kill -9`);
      } finally {
        assert.equal((await q.stop('SIGTERM')).code, 0);
      }
    } finally {
      unmount();
    }
  });
}
