// A 1 GiB upload streams through: the plane's resident memory grows by less than 64 MiB.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, test } from 'node:test';
import { bytes, fresh, removeDirs, startStorage, stopped } from './helpers.js';

after(removeDirs);
const GiB = 1024 * 1024 * 1024;
const BLOCK = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test('a 1 GiB upload keeps RSS growth under 64 MiB and is stored whole', async (t) => {
  const p = await startStorage(fresh(), { STORAGE_MAX_OBJECT_BYTES: '1GiB' });
  try {
    // Warm the paths once (first requests load code), then take the baseline.
    await fetch(`${p.url}/v1/cas`, { method: 'POST', body: bytes(200_000, 5) });
    const base = rssBytes(p.pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(p.pid))), 25);
    // Unique 64 KiB chunks without generating 1 GiB of randomness: a counter in each chunk.
    const block = bytes(BLOCK, 77);
    let blocks = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${p.url}/v1/cas`,
        { method: 'POST', headers: { 'content-length': String(GiB) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      const pump = (): void => {
        while (blocks < GiB / BLOCK) {
          const b = Buffer.from(block);
          for (let off = 0; off < BLOCK; off += 65536) b.writeUInt32LE(blocks * 16 + off / 65536, off);
          blocks++;
          if (!req.write(b)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    clearInterval(sampler);
    assert.equal(status, 201);
    const growth = peak - base;
    t.diagnostic(
      `RSS ${(base / 2 ** 20).toFixed(1)} MiB before, peak growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
    const s = (await (await fetch(`${p.url}/v1/cas/stats`)).json()) as {
      stored_bytes: number;
      chunks: number;
    };
    assert.ok(s.stored_bytes >= GiB);
    assert.ok(s.chunks >= GiB / 65536);
  } finally {
    await stopped(p);
  }
});
