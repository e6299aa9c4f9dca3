// svc-index through its real process (SPEC §4.5.2).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';

const BIN = fileURLToPath(new URL('../../bin/svc-index.js', import.meta.url));
const A = `b3:${'a'.repeat(64)}`;
const B = `b3:${'b'.repeat(64)}`;

function put(
  url: string,
  name: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/v1/index/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('svc-index', () => {
  let p: Program;
  const dir = tempDir();
  const path = `${dir.path}/index.db`;
  before(async () => {
    p = await spawnProgram({ bin: BIN, args: ['--bind', '127.0.0.1:0', '--storage-path', path] });
  });
  after(async () => {
    await p.stop();
    dir.remove();
  });

  test('PUT creates (201) then replaces (200) with the version as ETag; GET, 304, DELETE', async () => {
    const c = await put(p.url, 'site/home', { addr: A, meta: { type: 'text/html' } });
    assert.equal(c.status, 201);
    assert.equal(c.headers.get('etag'), '"1"');
    const r = await put(p.url, 'site/home', { addr: B });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), '"2"');
    const g = await fetch(`${p.url}/v1/index/site/home`);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('etag'), '"2"');
    const j = (await g.json()) as Record<string, unknown>;
    assert.equal(j.addr, B);
    assert.equal(j.version, 2);
    assert.equal(
      (await fetch(`${p.url}/v1/index/site/home`, { headers: { 'if-none-match': '"2"' } })).status,
      304,
    );
    assert.equal(
      (await fetch(`${p.url}/v1/index/site/home`, { method: 'DELETE', headers: { 'if-match': '"1"' } }))
        .status,
      412,
    );
    assert.equal(
      (await fetch(`${p.url}/v1/index/site/home`, { method: 'DELETE', headers: { 'if-match': '"2"' } }))
        .status,
      204,
    );
    assert.equal((await fetch(`${p.url}/v1/index/site/home`)).status, 404);
    assert.equal((await fetch(`${p.url}/v1/index/site/home`, { method: 'DELETE' })).status, 404);
    // Versions keep growing after a delete: an old ETag never matches the new binding.
    const again = await put(p.url, 'site/home', { addr: A });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('etag'), '"4"');
    const h = (await (await fetch(`${p.url}/v1/index/site/home/history`)).json()) as {
      versions: { version: number; addr: string | null; deleted: boolean }[];
    };
    assert.deepEqual(
      h.versions.map((v) => [v.version, v.addr, v.deleted]),
      [
        [4, A, false],
        [3, null, true],
        [2, B, false],
        [1, A, false],
      ],
    );
  });

  test('If-Match / If-None-Match compare-and-set: 412 on mismatch', async () => {
    assert.equal(
      (await put(p.url, 'cas/x', { addr: A }, { 'if-match': '*' })).status,
      412,
      'If-Match * needs an existing name',
    );
    assert.equal((await put(p.url, 'cas/x', { addr: A }, { 'if-none-match': '*' })).status, 201);
    assert.equal((await put(p.url, 'cas/x', { addr: B }, { 'if-none-match': '*' })).status, 412);
    assert.equal((await put(p.url, 'cas/x', { addr: B }, { 'if-match': '"7"' })).status, 412);
    assert.equal((await put(p.url, 'cas/x', { addr: B }, { 'if-match': 'W/"1", "9"' })).status, 200);
  });

  test('20 concurrent If-None-Match: * writes: exactly one wins', async () => {
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        put(p.url, 'race/one', { addr: `b3:${i.toString(16).padStart(64, '0')}` }, { 'if-none-match': '*' }),
      ),
    );
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, ...Array<number>(19).fill(412)]);
    const winner = rs.find((r) => r.status === 201)!;
    const g = (await (await fetch(`${p.url}/v1/index/race/one`)).json()) as { addr: string };
    assert.equal(g.addr, ((await winner.json()) as { addr: string }).addr);
  });

  test('prefix listing in name order with cursors', async () => {
    for (const n of ['ls/c', 'ls/a', 'ls/b/1', 'ls/b/2', 'lt/x'])
      assert.equal((await put(p.url, n, { addr: A })).status, 201);
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = (await (await fetch(`${p.url}/v1/index?prefix=ls/&limit=2&cursor=${cursor}`)).json()) as {
        names: { name: string }[];
        next_cursor: string | null;
      };
      seen.push(...page.names.map((n) => n.name));
      cursor = page.next_cursor;
    }
    assert.deepEqual(seen, ['ls/a', 'ls/b/1', 'ls/b/2', 'ls/c']);
  });

  test('/content redirects (307) to the storage plane', async () => {
    await put(p.url, 'blob', { addr: A });
    const r = await fetch(`${p.url}/v1/index/blob/content`, { redirect: 'manual' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), `/v1/cas/${A}`);
    assert.equal((await fetch(`${p.url}/v1/index/nope/content`, { redirect: 'manual' })).status, 404);
  });

  test('bad input gets the right 4xx, never a 500', async () => {
    const cases: [string, RequestInit, number][] = [
      [
        '/v1/index/Bad',
        { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ addr: A }) },
        400,
      ],
      ['/v1/index/a/../b', { method: 'GET' }, 404],
      [
        '/v1/index/a//b',
        { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ addr: A }) },
        400,
      ],
      [
        '/v1/index/a/history',
        { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ addr: A }) },
        400,
      ],
      [
        '/v1/index/ok',
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ addr: 'b3:xyz' }),
        },
        400,
      ],
      [
        '/v1/index/ok',
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ addr: A, extra: 1 }),
        },
        400,
      ],
      [
        '/v1/index/ok',
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ addr: A, meta: 5 }),
        },
        400,
      ],
      ['/v1/index/ok', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{' }, 400],
      ['/v1/index/ok', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'x' }, 415],
      [
        '/v1/index/ok',
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ addr: A, meta: { x: 'y'.repeat(20_000) } }),
        },
        413,
      ],
      [`/v1/index/${'a'.repeat(300)}`, { method: 'GET' }, 400],
      ['/v1/index?limit=0', {}, 400],
      ['/v1/index?cursor=%%%', {}, 400],
      ['/v1/index?prefix=BAD', {}, 400],
    ];
    for (const [path, init, status] of cases) {
      const r = await fetch(`${p.url}${path}`, init);
      assert.equal(r.status, status, `${path}: ${await r.text()}`);
    }
  });

  test('bindings survive kill -9', async () => {
    assert.equal((await put(p.url, 'durable/k', { addr: B })).status, 201);
    await p.stop('SIGKILL');
    p = await spawnProgram({ bin: BIN, args: ['--bind', '127.0.0.1:0', '--storage-path', path] });
    const g = (await (await fetch(`${p.url}/v1/index/durable/k`)).json()) as { addr: string };
    assert.equal(g.addr, B);
    const m = await (await fetch(`${p.url}/metrics`)).text();
    assert.match(m, /index_ops_total\{op="put"\} 0/);
  });
});
