// kill -9 of a real svc-registry on SQLite during a 16-client signed-commit storm, 3 rounds on the
// same database: no acknowledged commit is lost, the chain stays valid. The clients share one
// version counter (each signs the next version), so commits arrive together and share batches.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { signBytes, signedBytes } from '../src/index.js';
import { type Head } from '../src/log-entry.js';
import { assertAllAcknowledged, durableRig, head } from './durable-helpers.js';

const rig = await durableRig('ron-registry-kill9-');
const key = rig.key;

/**
 * 16 clients commit until `stop()`; acknowledged commits land in `acked` (version → payload).
 * A 422 means a commit reached the server out of version order: the clients stop taking
 * versions, let the ones in flight land and restart the counter from the head.
 */
function storm(url: string, first: number, acked: Map<number, string>): { stop: () => Promise<void> } {
  let next = first;
  let stopped = false;
  let inflight = 0;
  let paused: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stopped) {
      if (paused !== undefined) {
        await paused;
        continue;
      }
      const v = next++;
      const payload = `b3:w${w}-${n++}`;
      const sig = signBytes(
        key,
        signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version: v }),
      );
      inflight++;
      let status: number;
      try {
        const res = await fetch(`${url}/registry/commit`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ payload_b3: payload, signatures: [sig] }),
        });
        const body = (await res.json()) as Head;
        status = res.status;
        if (status === 200) {
          assert.equal(body.version, v);
          acked.set(v, payload);
        }
      } catch {
        return; // the process is gone
      } finally {
        inflight--;
        if (inflight === 0) drained?.();
      }
      if (status === 200) continue;
      assert.equal(status, 422, `commit answered ${status}`);
      if (paused !== undefined) continue;
      let resume!: () => void;
      paused = new Promise((r) => (resume = r));
      if (inflight > 0) await new Promise<void>((r) => (drained = r));
      drained = undefined;
      try {
        next = (await head(url)).version + 1;
      } catch {
        stopped = true;
      }
      paused = undefined;
      resume();
    }
  };
  const workers = Array.from({ length: 16 }, (_, w) => worker(w));
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

test('kill -9 during a 16-client signed-commit storm on SQLite loses no acknowledged commit (3 rounds): valid chain, head ≥ last ack', async () => {
  const db = join(rig.dir, 'storm', 'registry.db');
  const acked = new Map<number, string>();
  for (let round = 1; round <= 3; round++) {
    const p = await rig.spawn(db);
    const before = acked.size;
    const s = storm(p.url, (await head(p.url)).version + 1, acked);
    // Kill once this round has a good number of acknowledged commits, with requests in flight.
    while (acked.size < before + 100) await new Promise((r) => setTimeout(r, 5));
    const killed = await p.stop('SIGKILL');
    await s.stop();
    assert.equal(killed.signal, 'SIGKILL');

    const p2 = await rig.spawn(db);
    await assertAllAcknowledged(p2.url, acked, `round ${round}`);
    assert.equal((await p2.stop('SIGTERM')).code, 0);
  }
});
