// Issue 11 fault, repeated 3 times: a write refused inside a batch (compare-and-set mismatch) leaves
// its batch-mates applied, acknowledged and durable across kill -9 (real micronode process, SQLite).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAllDurable, drain, fresh, killed, put, startSqlite } from './durable-helpers.js';

for (let round = 1; round <= 3; round++) {
  test(`a write refused inside a batch leaves its batch-mates applied and acknowledged (round ${round}/3)`, async () => {
    const path = `${fresh()}/kv.db`;
    const first = await startSqlite(path);
    const acked = new Map<string, string>();
    let fixedEtag: string;
    try {
      const fixed = await put(first.url, 'mix/fixed', 'fixed');
      assert.equal(fixed.status, 201);
      fixedEtag = fixed.headers.get('etag')!;
      // One burst: new keys (201), stale If-Match on an existing key (412), create-only on an
      // existing key (412) — interleaved, so refused writes share transactions with accepted ones.
      const burst = Array.from(
        { length: 48 },
        (_, i): { kind: number; path: string; body: string; headers: Record<string, string> } => {
          const kind = i % 3;
          if (kind === 0)
            return { kind, path: `mix/new${i}`, body: `n${round}-${i}`, headers: { 'if-none-match': '*' } };
          if (kind === 1)
            return { kind, path: 'mix/fixed', body: `stale${i}`, headers: { 'if-match': '"b3:stale"' } };
          return { kind, path: 'mix/fixed', body: `dup${i}`, headers: { 'if-none-match': '*' } };
        },
      );
      const statuses = await Promise.all(
        burst.map((b) => put(first.url, b.path, b.body, b.headers).then(drain)),
      );
      burst.forEach((b, i) => {
        assert.equal(statuses[i], b.kind === 0 ? 201 : 412, `${b.path} ${JSON.stringify(b.headers)}`);
        if (b.kind === 0) acked.set(b.path, b.body);
      });
      acked.set('mix/fixed', 'fixed');
      await assertAllDurable(first.url, acked);
    } finally {
      await killed(first);
    }
    const second = await startSqlite(path);
    try {
      await assertAllDurable(second.url, acked);
      assert.equal((await fetch(`${second.url}/v1/kv/mix/fixed`)).headers.get('etag'), fixedEtag);
    } finally {
      await second.stop();
    }
  });
}
