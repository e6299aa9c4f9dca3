// Faults with real processes: kill -9 during concurrent uploads, the quota, a full disk.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { waitFor } from '@ron/testkit';
import { b3, bytes, fresh, put, removeDirs, startStorage, stats, stopped } from './helpers.js';

const KiB = 1024;
after(removeDirs);

interface Upload {
  data: Buffer;
  /** Resolves with the answer, or undefined when the connection died first. */
  done: Promise<{ status: number; addr: string } | undefined>;
}

/** Streams `data` to POST /v1/cas; with `stallAt`, sends that many bytes and then stalls. */
function upload(url: string, data: Buffer, stallAt?: number): Upload {
  const done = new Promise<{ status: number; addr: string } | undefined>((resolve) => {
    const req = request(
      `${url}/v1/cas`,
      { method: 'POST', headers: { 'content-length': String(data.length) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, addr: (JSON.parse(text) as { addr: string }).addr }),
        );
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('error', () => resolve(undefined));
    const end = stallAt ?? data.length;
    let off = 0;
    const pump = (): void => {
      while (off < end) {
        const n = Math.min(64 * KiB, end - off);
        const ok = req.write(data.subarray(off, off + n));
        off += n;
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      if (stallAt === undefined) req.end();
    };
    pump();
  });
  return { data, done };
}

test('kill -9 during 8 concurrent uploads: acknowledged objects verify, nothing partial, temp gone after restart', async () => {
  const dir = fresh();
  const p = await startStorage(dir);
  const uploads: Upload[] = [];
  for (let i = 0; i < 8; i++) {
    const data = bytes((i + 1) * 300 * KiB + i, 900 + i);
    // Half finish; half stall midway and are cut by the kill.
    uploads.push(upload(p.url, data, i % 2 === 0 ? undefined : Math.floor(data.length / 2)));
  }
  const finished = await Promise.all(uploads.filter((_, i) => i % 2 === 0).map((u) => u.done));
  // The stalled uploads have written their first half (temp segment files exist).
  await waitFor(() => readdirSync(join(dir, 'tmp')).length >= 4, 10_000);
  p.proc.kill('SIGKILL');
  await p.exited;
  const acked = new Map<string, Buffer>();
  for (const [i, r] of finished.entries()) {
    assert.equal(r?.status, 201);
    acked.set(r.addr, uploads[i * 2]!.data);
  }
  for (const u of uploads.filter((_, i) => i % 2 === 1)) assert.equal(await u.done, undefined);

  const again = await startStorage(dir);
  try {
    assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'interrupted uploads left nothing');
    for (const [addr, data] of acked) {
      const r = await fetch(`${again.url}/v1/cas/${addr}`);
      assert.equal(r.status, 200);
      const back = Buffer.from(await r.arrayBuffer());
      assert.ok(back.equals(data));
      assert.equal(await b3(back), addr);
    }
    const listed = (await (await fetch(`${again.url}/v1/cas`)).json()) as { objects: { addr: string }[] };
    assert.deepEqual(
      listed.objects.map((o) => o.addr).sort(),
      [...acked.keys()].sort(),
      'only acknowledged objects are visible',
    );
    const s = await stats(again.url);
    assert.equal(
      s.logical_bytes,
      [...acked.values()].reduce((n, d) => n + d.length, 0),
    );
    assert.equal(s.stored_bytes, s.logical_bytes);
    // The stalled objects upload fine now.
    const late = uploads[1]!.data;
    assert.equal((await put(again.url, late)).status, 201);
  } finally {
    await stopped(again);
  }
});

test('quota: 507 InsufficientStorage, nothing partial, temp removed; room again after delete + GC', async () => {
  const dir = fresh();
  const p = await startStorage(dir, { STORAGE_MAX_BYTES: '300KiB' });
  try {
    const a = bytes(200 * KiB, 31);
    const ra = await put(p.url, a);
    assert.equal(ra.status, 201);
    const before = await stats(p.url);
    const b = bytes(200 * KiB, 32);
    const r = await fetch(`${p.url}/v1/cas`, { method: 'POST', body: b });
    assert.equal(r.status, 507);
    const env = (await r.json()) as { error: { code: string; hint: string } };
    assert.equal(env.error.code, 'InsufficientStorage');
    assert.deepEqual(await stats(p.url), before);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    assert.equal((await fetch(`${p.url}/v1/cas/${await b3(b)}`)).status, 404);
    assert.equal((await fetch(`${p.url}/v1/cas/${ra.body.addr}`, { method: 'DELETE' })).status, 204);
    await waitFor(async () => (await stats(p.url)).stored_bytes === 0, 10_000);
    assert.equal((await put(p.url, b)).status, 201);
  } finally {
    await stopped(p);
  }
});

test('a full disk (a small tmpfs): 507, nothing partial, earlier objects intact', async (t) => {
  const mnt = join(fresh(), 'small');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
  t.after(() => execFileSync('umount', ['-l', mnt]));
  const dir = join(mnt, 'store');
  const p = await startStorage(dir);
  try {
    const a = bytes(512 * KiB, 41);
    const ra = await put(p.url, a);
    assert.equal(ra.status, 201);
    const before = await stats(p.url);
    const big = bytes(3 * 1024 * KiB, 42);
    const r = await fetch(`${p.url}/v1/cas`, { method: 'POST', body: big }).catch(() => undefined);
    // The answer may race the client's last bytes; when it arrives it is the 507.
    if (r !== undefined) {
      assert.equal(r.status, 507);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'InsufficientStorage');
    }
    assert.deepEqual(await stats(p.url), before);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    const back = Buffer.from(await (await fetch(`${p.url}/v1/cas/${ra.body.addr}`)).arrayBuffer());
    assert.ok(back.equals(a));
    // Space freed by the failed upload: a small object still fits.
    assert.equal((await put(p.url, bytes(64 * KiB, 43))).status, 201);
  } finally {
    await stopped(p);
  }
});
