// Issue 11 fault, repeated 3 times: kill -9 of the real micronode process (SQLite) during a
// 16-connection PUT storm loses no acknowledged write.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAllDurable, drain, fresh, killed, put, startSqlite } from './durable-helpers.js';

for (let round = 1; round <= 3; round++) {
  test(`kill -9 during a 16-connection PUT storm loses no acknowledged write (round ${round}/3)`, async () => {
    const path = `${fresh()}/kv.db`;
    const first = await startSqlite(path);
    const acked = new Map<string, string>();
    let stop = false;
    // Kill once enough writes are acknowledged, while all 16 writers are still mid-flight.
    const target = 60 + round * 20;
    let reached!: () => void;
    const enough = new Promise<void>((r) => (reached = r));
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const key = `storm/w${w}-${i}`;
        const body = `round${round}-w${w}-i${i}-${'x'.repeat(200)}`;
        try {
          const r = await put(first.url, key, body);
          if ((await drain(r)) === 201) acked.set(key, body);
          if (acked.size >= target) reached();
        } catch {
          return; // the process is gone: this write was never acknowledged
        }
      }
    };
    const writers = Array.from({ length: 16 }, (_, w) => writer(w));
    await enough;
    await killed(first);
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.size >= target);

    const second = await startSqlite(path);
    try {
      await assertAllDurable(second.url, acked);
    } finally {
      await second.stop();
    }
  });
}
