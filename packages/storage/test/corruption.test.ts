// A flipped byte in a stored chunk never reaches a client: 500 Corrupt before the headers, an aborted
// connection mid-stream; the object is listed as corrupt and counted.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { openSync, readSync, readdirSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { b3, bytes, fresh, metric, put, removeDirs, startStorage, stopped } from './helpers.js';

const CHUNK = 64 * 1024;
after(removeDirs);

/** Flips one byte of the only segment file written since `before`. */
function flip(dir: string, before: Set<string>, offset: number): void {
  const seg = readdirSync(join(dir, 'segments')).filter((f) => !before.has(f));
  assert.equal(seg.length, 1);
  const fd = openSync(join(dir, 'segments', seg[0]!), 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] = b[0]! ^ 0x01;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

interface Got {
  status: number;
  body: Buffer;
  complete: boolean;
  headers: Record<string, string | string[] | undefined>;
}

function fetchRaw(url: string, range?: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: range === undefined ? {} : { range } }, (res) => {
      const parts: Buffer[] = [];
      let settled = false;
      const done = (complete: boolean): void => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), complete, headers: res.headers });
      };
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => done(res.complete));
      res.on('aborted', () => done(false));
      res.on('error', () => done(false));
      res.on('close', () => done(res.complete));
    });
    req.on('error', reject);
  });
}

test('corruption in the first chunk: 500 Corrupt, never the bytes; listed, counted', async () => {
  const dir = fresh();
  const p = await startStorage(dir);
  try {
    const data = bytes(3 * CHUNK, 11);
    const segs = new Set<string>();
    const { body } = await put(p.url, data);
    assert.equal(body.addr, await b3(data));
    flip(dir, segs, 100);
    const full = await fetchRaw(`${p.url}/v1/cas/${body.addr}`);
    assert.equal(full.status, 500);
    assert.equal((JSON.parse(full.body.toString()) as { error: { code: string } }).error.code, 'Corrupt');
    assert.equal(full.headers.etag, undefined);
    const range = await fetchRaw(`${p.url}/v1/cas/${body.addr}`, 'bytes=50-150');
    assert.equal(range.status, 500);
    // Bytes outside the corrupted chunk are still served, verified.
    const clean = await fetchRaw(`${p.url}/v1/cas/${body.addr}`, `bytes=${CHUNK}-${2 * CHUNK - 1}`);
    assert.equal(clean.status, 206);
    assert.ok(clean.body.equals(data.subarray(CHUNK, 2 * CHUNK)));
    const listed = (await (await fetch(`${p.url}/v1/cas?state=corrupt`)).json()) as {
      objects: { addr: string; state: string }[];
    };
    assert.deepEqual(
      listed.objects.map((o) => [o.addr, o.state]),
      [[body.addr, 'corrupt']],
    );
    assert.equal(await metric(p.url, 'storage_verify_failures_total'), 2);
    const logged = await p.waitForLine(
      (l) => typeof l.msg === 'string' && l.msg.includes('failed its BLAKE3 check'),
    );
    assert.equal(logged.addr, body.addr);
    assert.equal(logged.chunk, 0);
  } finally {
    await stopped(p);
  }
});

test('corruption in a later chunk: the connection is aborted, the client holds only verified bytes', async () => {
  const dir = fresh();
  const p = await startStorage(dir);
  try {
    const data = bytes(40 * CHUNK, 12);
    const { body } = await put(p.url, data);
    flip(dir, new Set(), 30 * CHUNK + 7);
    const full = await fetchRaw(`${p.url}/v1/cas/${body.addr}`);
    assert.equal(full.status, 200);
    assert.equal(full.complete, false, 'the body is cut short');
    assert.ok(full.body.length <= 30 * CHUNK, `got ${full.body.length} bytes, none past the bad chunk`);
    assert.ok(full.body.equals(data.subarray(0, full.body.length)), 'every byte received is correct');
    // A range that starts in the bad chunk: 500 before any header.
    const r = await fetchRaw(`${p.url}/v1/cas/${body.addr}`, `bytes=${30 * CHUNK}-${31 * CHUNK}`);
    assert.equal(r.status, 500);
    // A range that reaches it from a good chunk: aborted, only good bytes.
    const r2 = await fetchRaw(`${p.url}/v1/cas/${body.addr}`, `bytes=${29 * CHUNK}-${31 * CHUNK}`);
    assert.equal(r2.status, 206);
    assert.equal(r2.complete, false);
    assert.ok(r2.body.equals(data.subarray(29 * CHUNK, 29 * CHUNK + r2.body.length)));
    assert.ok(r2.body.length <= CHUNK);
    const listed = (await (await fetch(`${p.url}/v1/cas?state=corrupt`)).json()) as {
      objects: { addr: string }[];
    };
    assert.deepEqual(
      listed.objects.map((o) => o.addr),
      [body.addr],
    );
    // The service stays up and healthy for other objects.
    const other = bytes(1000, 13);
    assert.equal((await put(p.url, other)).status, 201);
  } finally {
    await stopped(p);
  }
});
