// The /v1/cas contract against the real process: addresses, dedup, ranges, listing, delete + GC, bad input.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rawRequest, waitFor, type Program } from '@ron/testkit';
import {
  b3,
  bytes,
  fresh,
  metric,
  portOf,
  put,
  removeDirs,
  startStorage,
  stats,
  stopped,
} from './helpers.js';

const KiB = 1024;
const CHUNK = 64 * KiB;
let p: Program;
let url: string;

before(async () => {
  p = await startStorage(fresh(), { STORAGE_MAX_OBJECT_BYTES: '4MiB' });
  url = p.url;
});
after(async () => {
  await stopped(p);
  removeDirs();
});

test('roundtrip: the address equals b3sum, 201 then 200, bytes read back identical with caching headers', async () => {
  for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]) {
    const data = bytes(n, n + 7);
    const want = await b3(data);
    const first = await put(url, data);
    assert.equal(first.status, 201, `size ${n}`);
    assert.deepEqual(first.body, { addr: want, size: n, chunks: Math.ceil(n / CHUNK) });
    const again = await put(url, data);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    const r = await fetch(`${url}/v1/cas/${want}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), `"${want}"`);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('content-length'), String(n));
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data), `size ${n} reads back`);
    const h = await fetch(`${url}/v1/cas/${want}`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(n));
    const nm = await fetch(`${url}/v1/cas/${want}`, { headers: { 'if-none-match': `"${want}"` } });
    assert.equal(nm.status, 304);
  }
});

test('dedup: the same object twice keeps stored_bytes; objects sharing chunks store the shared ones once', async () => {
  const a = bytes(4 * CHUNK, 101);
  await put(url, a);
  const s1 = await stats(url);
  assert.equal((await put(url, a)).status, 200);
  assert.deepEqual(await stats(url), s1);
  // b = a's first three chunks + one new chunk: only the new chunk is stored.
  const b = Buffer.concat([a.subarray(0, 3 * CHUNK), bytes(CHUNK, 202)]);
  const rb = await put(url, b);
  assert.equal(rb.status, 201);
  const s2 = await stats(url);
  assert.equal(s2.objects, s1.objects + 1);
  assert.equal(s2.logical_bytes, s1.logical_bytes + b.length);
  assert.equal(s2.stored_bytes, s1.stored_bytes + CHUNK);
  assert.equal(s2.chunks, s1.chunks + 1);
  assert.ok(s2.dedup_ratio > 1);
  // An object repeating one chunk stores it once.
  const rep = Buffer.concat([bytes(CHUNK, 303), bytes(CHUNK, 303), bytes(CHUNK, 303)]);
  await put(url, rep);
  const s3 = await stats(url);
  assert.equal(s3.stored_bytes, s2.stored_bytes + CHUNK);
  const back = Buffer.from(await (await fetch(`${url}/v1/cas/${await b3(rep)}`)).arrayBuffer());
  assert.ok(back.equals(rep));
});

test('ranges: 206 with Content-Range across chunk edges, suffix and open ranges, 416 when unsatisfiable', async () => {
  const data = bytes(3 * CHUNK + 100, 404);
  const { body } = await put(url, data);
  const get = (range: string): Promise<Response> =>
    fetch(`${url}/v1/cas/${body.addr}`, { headers: { range } });
  const cases: [string, number, number][] = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-9', 0, 9],
    [`bytes=${CHUNK - 5}-${CHUNK + 4}`, CHUNK - 5, CHUNK + 4],
    [`bytes=${CHUNK}-${2 * CHUNK - 1}`, CHUNK, 2 * CHUNK - 1],
    [`bytes=${3 * CHUNK}-`, 3 * CHUNK, data.length - 1],
    ['bytes=-10', data.length - 10, data.length - 1],
    [`bytes=-${data.length + 50}`, 0, data.length - 1],
    [`bytes=10-${data.length + 1000}`, 10, data.length - 1],
    [`bytes=${data.length - 1}-${data.length - 1}`, data.length - 1, data.length - 1],
  ];
  for (const [range, s, e] of cases) {
    const r = await get(range);
    assert.equal(r.status, 206, range);
    assert.equal(r.headers.get('content-range'), `bytes ${s}-${e}/${data.length}`, range);
    assert.equal(r.headers.get('content-length'), String(e - s + 1), range);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data.subarray(s, e + 1)), range);
  }
  for (const range of [
    `bytes=${data.length}-`,
    `bytes=${data.length}-${data.length + 5}`,
    'bytes=5-2',
    'bytes=-0',
    'bytes=x-y',
    'bytes=-',
    'garbage',
  ]) {
    const r = await get(range);
    assert.equal(r.status, 416, range);
    assert.equal(r.headers.get('content-range'), `bytes */${data.length}`);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'RangeNotSatisfiable');
  }
  // Another unit or several ranges: ignored (RFC 9110), the whole object.
  for (const range of ['items=0-1', 'bytes=0-1,5-6']) {
    const r = await get(range);
    assert.equal(r.status, 200, range);
    assert.equal((await r.arrayBuffer()).byteLength, data.length);
  }
  // The empty object has no satisfiable range.
  const e = await put(url, Buffer.alloc(0));
  assert.equal((await fetch(`${url}/v1/cas/${e.body.addr}`, { headers: { range: 'bytes=0-' } })).status, 416);
});

test('listing pages by cursor; state=corrupt is empty on a healthy store; stats and metrics agree', async () => {
  const all: string[] = [];
  let cursor = '';
  for (;;) {
    const r = (await (await fetch(`${url}/v1/cas?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json()) as {
      objects: { addr: string; size: number; state: string }[];
      next_cursor: string | null;
    };
    all.push(...r.objects.map((o) => o.addr));
    for (const o of r.objects) assert.equal(o.state, 'ok');
    if (r.next_cursor === null) break;
    cursor = r.next_cursor;
  }
  const s = await stats(url);
  assert.equal(all.length, s.objects);
  assert.deepEqual([...all].sort(), all);
  assert.deepEqual(
    ((await (await fetch(`${url}/v1/cas?state=corrupt`)).json()) as { objects: unknown[] }).objects,
    [],
  );
  assert.equal(await metric(url, 'storage_objects'), s.objects);
  assert.equal(await metric(url, 'storage_stored_bytes'), s.stored_bytes);
  assert.equal(await metric(url, 'storage_verify_failures_total'), 0);
  for (const q of ['limit=0', 'limit=1001', 'limit=x', 'state=bad', 'cursor=nope', 'limit=1&limit=2'])
    assert.equal((await fetch(`${url}/v1/cas?${q}`)).status, 400, q);
});

test('delete drops the object; the background GC frees chunks no other object holds', async () => {
  const shared = bytes(2 * CHUNK, 505);
  const a = Buffer.concat([shared, bytes(CHUNK, 506)]);
  const b = Buffer.concat([shared, bytes(CHUNK, 507)]);
  const ra = await put(url, a);
  const rb = await put(url, b);
  const before = await stats(url);
  assert.equal((await fetch(`${url}/v1/cas/${ra.body.addr}`, { method: 'DELETE' })).status, 204);
  assert.equal((await fetch(`${url}/v1/cas/${ra.body.addr}`)).status, 404);
  assert.equal((await fetch(`${url}/v1/cas/${ra.body.addr}`, { method: 'DELETE' })).status, 404);
  // Only a's own chunk goes; the shared ones stay for b.
  const later = (await waitFor(async () => {
    const s = await stats(url);
    return s.stored_bytes === before.stored_bytes - CHUNK ? s : undefined;
  }))!;
  assert.equal(later.objects, before.objects - 1);
  const back = Buffer.from(await (await fetch(`${url}/v1/cas/${rb.body.addr}`)).arrayBuffer());
  assert.ok(back.equals(b));
  assert.ok((await metric(url, 'storage_gc_bytes_freed_total'))! >= CHUNK);
});

test('bad input gets the right 4xx, never a 500', async () => {
  const port = portOf(url);
  for (const a of [
    'b3:zz',
    'b3:' + 'A'.repeat(64),
    'b3:' + '0'.repeat(63),
    'sha256:' + '0'.repeat(64),
    '%ff',
  ])
    assert.equal((await fetch(`${url}/v1/cas/${a}`)).status, 400, a);
  assert.equal((await fetch(`${url}/v1/cas/b3:${'0'.repeat(64)}`)).status, 404);
  // Declared larger than max_object_bytes: 413 before any byte is read.
  const big = await rawRequest(
    port,
    `POST /v1/cas HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 * 1024 * 1024}\r\n\r\n`,
  );
  assert.equal(big.status, 413);
  // Chunked: 411.
  const chunked = await rawRequest(
    port,
    'POST /v1/cas HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  );
  assert.equal(chunked.status, 411);
  // Compressed: 415.
  const enc = await rawRequest(
    port,
    'POST /v1/cas HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello',
    {
      untilFirstResponse: true,
    },
  );
  assert.equal(enc.status, 415);
  // A lying length (fewer bytes than declared, then the client gives up): nothing is stored.
  const s0 = await stats(url);
  const short = await rawRequest(
    port,
    'POST /v1/cas HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly-this',
    { timeoutMs: 300 },
  );
  assert.equal(short.status, 0, 'no answer while the body is incomplete');
  // More bytes than declared: the object is the declared prefix; the rest is the next request.
  const long = await rawRequest(
    port,
    'POST /v1/cas HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.equal(long.status, 201);
  assert.match(long.raw, /HTTP\/1.1 200 OK/);
  const s1 = await stats(url);
  assert.equal(s1.objects, s0.objects + 1, 'only the honest prefix became an object');
  assert.equal((await fetch(`${url}/v1/cas/${await b3(Buffer.from('hello'))}`)).status, 200);
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.ok(!/storage_http_requests_total\{[^}]*status="5\d\d"\} [1-9]/.test(text), 'no 5xx answered');
});

test('admin plane: truthful readyz with store probes, version, prewarmed storage_* series', async () => {
  const r = await fetch(`${url}/readyz`);
  assert.equal(r.status, 200);
  const body = (await r.json()) as { ready: boolean; probes: Record<string, boolean>; mode: string };
  assert.deepEqual(body.probes, { listeners_bound: true, store_open: true, data_dir_writable: true });
  assert.equal(body.mode, 'truthful');
  const v = (await (await fetch(`${url}/version`)).json()) as { service: string };
  assert.equal(v.service, 'svc-storage');
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const name of [
    'storage_bytes_total{dir="in"}',
    'storage_bytes_total{dir="out"}',
    'storage_uploads_total{result="created"}',
    'storage_verify_failures_total',
    'storage_gc_runs_total',
    'storage_gc_bytes_freed_total',
    'storage_objects',
    'storage_chunks',
    'storage_dedup_ratio',
    'storage_rejections_total{reason="body_cap"}',
  ])
    assert.ok(text.includes(`\n${name} `), name);
});
