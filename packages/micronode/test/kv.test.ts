// SPEC §3 KV API on the real process, once per engine: binary round trips, ETags (BLAKE3 checked
// against hash-wasm independently), CAS, HEAD, delete, listing with prefix and cursor, validation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { blake3 } from 'hash-wasm';
import { rawRequest, tempDir, type Program } from '@ron/testkit';
import { assertEnvelope, portOf, startNode } from './helpers.js';

const MiB = 1024 * 1024;

async function expectedEtag(value: Uint8Array): Promise<string> {
  return `"b3:${await blake3(value)}"`;
}

for (const engine of ['mem', 'sqlite'] as const) {
  describe(`KV API on ${engine} (real process)`, () => {
    let node: Program;
    const dir = tempDir();
    let base: string;
    before(async () => {
      node = await startNode({
        MICRONODE_STORAGE_ENGINE: engine,
        MICRONODE_STORAGE_PATH: `${dir.path}/kv.db`,
      });
      base = `${node.url}/v1/kv`;
    });
    after(async () => {
      await node.stop();
      dir.remove();
    });

    test('all 256 byte values round-trip exactly; ETag is "b3:<hex>" of the value', async () => {
      const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const put = await fetch(`${base}/bin/all-bytes`, {
        method: 'PUT',
        body: value,
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(put.status, 201);
      const etag = await expectedEtag(value);
      assert.equal(put.headers.get('etag'), etag);
      const get = await fetch(`${base}/bin/all-bytes`);
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('content-type'), 'application/octet-stream');
      assert.equal(get.headers.get('etag'), etag);
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), value);
    });

    test('a value exactly at the 1 MiB cap is stored; cap+1 → 413 PayloadTooLarge', async () => {
      const value = Buffer.alloc(MiB);
      for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff;
      const put = await fetch(`${base}/bin/one-mib`, { method: 'PUT', body: value });
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('etag'), await expectedEtag(value));
      const get = await fetch(`${base}/bin/one-mib`);
      const back = Buffer.from(await get.arrayBuffer());
      assert.equal(back.length, MiB);
      assert.ok(back.equals(value));

      const over = await fetch(`${base}/bin/too-big`, {
        method: 'PUT',
        body: Buffer.alloc(MiB + 1),
        headers: { 'x-request-id': 'big-1' },
      });
      assert.equal(over.status, 413);
      assertEnvelope(await over.text(), 'PayloadTooLarge', 'big-1');
      assert.equal((await fetch(`${base}/bin/too-big`)).status, 404);
    });

    test('an empty value is a valid value', async () => {
      const put = await fetch(`${base}/bin/empty`, { method: 'PUT', body: '' });
      assert.equal(put.status, 201);
      const get = await fetch(`${base}/bin/empty`);
      assert.equal(get.status, 200);
      assert.equal((await get.arrayBuffer()).byteLength, 0);
      assert.equal(get.headers.get('etag'), await expectedEtag(new Uint8Array()));
    });

    test('overwrite: 201 then 204 with the new ETag; the new value wins', async () => {
      const a = await fetch(`${base}/ow/k`, { method: 'PUT', body: 'one' });
      assert.equal(a.status, 201);
      const b = await fetch(`${base}/ow/k`, { method: 'PUT', body: 'two' });
      assert.equal(b.status, 204);
      assert.equal(b.headers.get('etag'), await expectedEtag(Buffer.from('two')));
      assert.equal(await (await fetch(`${base}/ow/k`)).text(), 'two');
    });

    test('delete: 204 then 404 (envelope), and GET is 404 afterwards', async () => {
      await fetch(`${base}/del/k`, { method: 'PUT', body: 'x' });
      const d1 = await fetch(`${base}/del/k`, { method: 'DELETE' });
      assert.equal(d1.status, 204);
      const d2 = await fetch(`${base}/del/k`, { method: 'DELETE', headers: { 'x-request-id': 'del-2' } });
      assert.equal(d2.status, 404);
      assertEnvelope(await d2.text(), 'NotFound', 'del-2');
      const g = await fetch(`${base}/del/k`);
      assert.equal(g.status, 404);
      assertEnvelope(await g.text(), 'NotFound');
    });

    test('compare-and-set: If-Match mismatch → 412, match → 204; If-None-Match: * on existing → 412', async () => {
      const put = await fetch(`${base}/cas/k`, {
        method: 'PUT',
        body: 'v1',
        headers: { 'if-none-match': '*' },
      });
      assert.equal(put.status, 201);
      const etag = put.headers.get('etag')!;
      const again = await fetch(`${base}/cas/k`, {
        method: 'PUT',
        body: 'v1b',
        headers: { 'if-none-match': '*', 'x-request-id': 'cas-1' },
      });
      assert.equal(again.status, 412);
      assertEnvelope(await again.text(), 'PreconditionFailed', 'cas-1');
      const wrong = await fetch(`${base}/cas/k`, {
        method: 'PUT',
        body: 'v2',
        headers: { 'if-match': '"b3:0000"', 'x-request-id': 'cas-2' },
      });
      assert.equal(wrong.status, 412);
      assert.equal(wrong.headers.get('x-request-id'), 'cas-2');
      assertEnvelope(await wrong.text(), 'PreconditionFailed', 'cas-2');
      assert.equal(await (await fetch(`${base}/cas/k`)).text(), 'v1');
      const right = await fetch(`${base}/cas/k`, {
        method: 'PUT',
        body: 'v2',
        headers: { 'if-match': etag },
      });
      assert.equal(right.status, 204);
      // If-Match on a missing key fails; a stale ETag on DELETE fails.
      const missing = await fetch(`${base}/cas/absent`, {
        method: 'PUT',
        body: 'x',
        headers: { 'if-match': '*' },
      });
      assert.equal(missing.status, 412);
      const staleDel = await fetch(`${base}/cas/k`, { method: 'DELETE', headers: { 'if-match': etag } });
      assert.equal(staleDel.status, 412);
      assertEnvelope(await staleDel.text(), 'PreconditionFailed');
    });

    test('GET with If-None-Match of the current ETag → 304 without a body', async () => {
      const put = await fetch(`${base}/cond/k`, { method: 'PUT', body: 'cached' });
      const etag = put.headers.get('etag')!;
      const r = await fetch(`${base}/cond/k`, { headers: { 'if-none-match': etag } });
      assert.equal(r.status, 304);
      assert.equal(r.headers.get('etag'), etag);
      assert.equal((await r.arrayBuffer()).byteLength, 0);
      const other = await fetch(`${base}/cond/k`, { headers: { 'if-none-match': '"b3:other"' } });
      assert.equal(other.status, 200);
    });

    test('HEAD: metadata only (ETag, Content-Length), no body; 404 when absent', async () => {
      const value = Buffer.from('twelve bytes');
      await fetch(`${base}/head/k`, { method: 'PUT', body: value });
      const r = await rawRequest(
        portOf(node.url),
        `HEAD /v1/kv/head/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(r.status, 200);
      assert.equal(r.headers.etag, await expectedEtag(value));
      assert.equal(r.headers['content-length'], String(value.length));
      assert.equal(r.body, '');
      const missing = await fetch(`${base}/head/absent`, { method: 'HEAD' });
      assert.equal(missing.status, 404);
    });

    test('listing: key order (UTF-8 byte order), prefix, pagination via next_cursor', async () => {
      const keys = ['b', 'a', 'c/2', 'c/1', 'c/10', 'é', 'z', 'A'];
      for (const k of keys) {
        const r = await fetch(`${base}/list/${encodeURIComponent(k)}`, { method: 'PUT', body: k });
        assert.equal(r.status, 201);
      }
      const all = (await (await fetch(`${base}/list`)).json()) as {
        keys: string[];
        next_cursor: string | null;
      };
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(all.keys, sorted);
      assert.equal(all.next_cursor, null);

      const pref = (await (await fetch(`${base}/list?prefix=c%2F`)).json()) as { keys: string[] };
      assert.deepEqual(pref.keys, ['c/1', 'c/10', 'c/2']);

      const pages: string[] = [];
      let cursor: string | null = null;
      let rounds = 0;
      do {
        const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const page = (await (await fetch(`${base}/list?limit=3${q}`)).json()) as {
          keys: string[];
          next_cursor: string | null;
        };
        assert.ok(page.keys.length <= 3);
        pages.push(...page.keys);
        cursor = page.next_cursor;
        rounds++;
      } while (cursor !== null && rounds < 10);
      assert.deepEqual(pages, sorted);
      assert.equal(rounds, 3);

      const prefPaged = (await (await fetch(`${base}/list?prefix=c%2F&limit=2`)).json()) as {
        keys: string[];
        next_cursor: string;
      };
      assert.deepEqual(prefPaged.keys, ['c/1', 'c/10']);
      const rest = (await (
        await fetch(`${base}/list?prefix=c%2F&limit=2&cursor=${encodeURIComponent(prefPaged.next_cursor)}`)
      ).json()) as { keys: string[]; next_cursor: string | null };
      assert.deepEqual(rest.keys, ['c/2']);
      assert.equal(rest.next_cursor, null);

      const empty = (await (await fetch(`${base}/nobucket`)).json()) as {
        keys: string[];
        next_cursor: string | null;
      };
      assert.deepEqual(empty, { keys: [], next_cursor: null });
    });

    test('listing: bad cursor and out-of-bounds limits → 400 envelope', async () => {
      for (const q of [
        'prefix=a&prefix=b',
        'cursor=YQ&cursor=Yg',
        'limit=1&limit=2',
        'cursor=%21%21not-base64',
        'cursor=Zm9v%3D',
        'limit=0',
        'limit=1001',
        'limit=abc',
        'limit=1.5',
        'limit=-1',
      ]) {
        const r = await fetch(`${base}/list?${q}`, { headers: { 'x-request-id': 'lst-1' } });
        assert.equal(r.status, 400, q);
        assertEnvelope(await r.text(), 'BadRequest', 'lst-1');
      }
      for (const q of ['limit=1', 'limit=1000'])
        assert.equal((await fetch(`${base}/list?${q}`)).status, 200, q);
    });

    test('bucket and key violations → 400 BadRequest with the request id', async () => {
      const longKey = 'k'.repeat(1025);
      const cases: [string, string][] = [
        ['PUT', `/v1/kv/Bad/k`], // uppercase
        ['PUT', `/v1/kv/b%21d/k`], // bad char
        ['PUT', `/v1/kv/-lead/k`], // must start alnum
        ['PUT', `/v1/kv/${'a'.repeat(64)}/k`], // 64 chars
        ['PUT', `/v1/kv/b/${longKey}`], // key > 1024 bytes
        ['PUT', `/v1/kv/b/${'é'.repeat(513)}`], // 1026 bytes of UTF-8
        ['PUT', `/v1/kv/b/a%00b`], // NUL
        ['PUT', `/v1/kv/b/a%0Ab`], // newline
        ['PUT', `/v1/kv/b/a%7Fb`], // DEL
        ['PUT', `/v1/kv/b/%C2%85`], // C1 control
        ['PUT', `/v1/kv/b/%FF%FE`], // not UTF-8
        ['PUT', `/v1/kv/b/%E0%A4%A`], // broken percent-encoding
        ['PUT', `/v1/kv/b/${'%C3%A9'.repeat(1000)}`], // longer than any key, answered by the router
        ['GET', `/v1/kv/Bad/k`],
        ['DELETE', `/v1/kv/b/a%01`],
        ['GET', `/v1/kv/UPPER`],
      ];
      for (const [method, path] of cases) {
        const r = await fetch(`${node.url}${path}`, {
          method,
          headers: { 'x-request-id': 'val-1' },
          ...(method === 'PUT' ? { body: 'x' } : {}),
        });
        assert.equal(r.status, 400, `${method} ${path.slice(0, 60)}`);
        assert.equal(r.headers.get('x-request-id'), 'val-1');
        assertEnvelope(await r.text(), 'BadRequest', 'val-1');
      }
      // The boundaries themselves are accepted.
      assert.equal(
        (await fetch(`${base}/${'a'.repeat(63)}/${'k'.repeat(1024)}`, { method: 'PUT', body: 'x' })).status,
        201,
      );
      assert.equal(
        (
          await fetch(`${base}/a.b_c-d/${encodeURIComponent('ключ/with spaces')}`, {
            method: 'PUT',
            body: 'x',
          })
        ).status,
        201,
      );
      // 1024 bytes of multi-byte UTF-8, fully percent-encoded (3072 URL chars), is a valid key.
      const k1024 = encodeURIComponent('€'.repeat(341) + 'k');
      assert.equal((await fetch(`${base}/b/${k1024}`, { method: 'PUT', body: 'x' })).status, 201);
    });
  });
}
