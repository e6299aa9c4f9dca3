// Compare-and-set through the group-commit writer stays exact under concurrency, and a write is not
// visible before its COMMIT (real micronode process on SQLite).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drain, fresh, put, startSqlite } from './durable-helpers.js';

test('20 concurrent If-None-Match:* PUTs of one key: exactly one 201, the rest 412', async () => {
  const p = await startSqlite(`${fresh()}/kv.db`);
  try {
    for (let round = 0; round < 3; round++) {
      const statuses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          put(p.url, `cas/new${round}`, `v${i}`, { 'if-none-match': '*' }).then(drain),
        ),
      );
      assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 412).length, 19, statuses.join(','));
      const winner = statuses.indexOf(201);
      assert.equal(await (await fetch(`${p.url}/v1/kv/cas/new${round}`)).text(), `v${winner}`);
    }
  } finally {
    await p.stop();
  }
});

test('concurrent If-Match races: exactly one writer replaces each version; a DELETE race has one winner', async () => {
  const p = await startSqlite(`${fresh()}/kv.db`);
  try {
    const first = await put(p.url, 'cas/race', 'v0');
    assert.equal(first.status, 201);
    let etag = first.headers.get('etag')!;
    for (let round = 1; round <= 5; round++) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => put(p.url, 'cas/race', `r${round}-${i}`, { 'if-match': etag })),
      );
      const statuses = await Promise.all(rs.map(drain));
      assert.equal(statuses.filter((s) => s === 204).length, 1, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 412).length, 19, statuses.join(','));
      const w = statuses.indexOf(204);
      const got = await fetch(`${p.url}/v1/kv/cas/race`);
      assert.equal(await got.text(), `r${round}-${w}`);
      assert.equal(got.headers.get('etag'), rs[w]!.headers.get('etag'));
      etag = rs[w]!.headers.get('etag')!;
    }
    const dels = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${p.url}/v1/kv/cas/race`, { method: 'DELETE', headers: { 'if-match': etag } }).then(drain),
      ),
    );
    assert.equal(dels.filter((s) => s === 204).length, 1, dels.join(','));
    assert.ok(
      dels.every((s) => s === 204 || s === 404 || s === 412),
      dels.join(','),
    );
    assert.equal((await fetch(`${p.url}/v1/kv/cas/race`)).status, 404);
  } finally {
    await p.stop();
  }
});

test('a write is never visible before its COMMIT: a GET racing a PUT sees the old or the new value, and the new one once acknowledged', async () => {
  const p = await startSqlite(`${fresh()}/kv.db`);
  try {
    assert.equal(await drain(await put(p.url, 'vis/k', 'old')), 201);
    for (let i = 0; i < 30; i++) {
      const w = put(p.url, 'vis/k', `new${i}`).then(drain);
      const r = await (await fetch(`${p.url}/v1/kv/vis/k`)).text();
      assert.ok(r === (i === 0 ? 'old' : `new${i - 1}`) || r === `new${i}`, r);
      assert.equal(await w, 204);
      assert.equal(await (await fetch(`${p.url}/v1/kv/vis/k`)).text(), `new${i}`);
    }
  } finally {
    await p.stop();
  }
});
