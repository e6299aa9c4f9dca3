// The durable-write floor of a disk: how many WAL-sized appends, each followed by fdatasync, one
// after another, the disk completes per second. A SQLite COMMIT with synchronous=FULL appends its
// frames to the WAL and fdatasyncs it before returning, and commits on one connection are serial, so
// with C clients each waiting for its answer (C writes in flight at most, so at most C in one
// commit) no group-commit store can acknowledge more than C × this rate writes per second.
// Run as a child pinned to the server core: `node fsync-floor.mjs <dir> <seconds> [appendBytes]`;
// prints one JSON line {rate, p50_ms, p99_ms, n}.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [dirArg, secondsArg, bytesArg] = process.argv.slice(2);
const dir = mkdtempSync(join(dirArg ?? '/tmp', 'fsync-floor-'));
const seconds = Number(secondsArg ?? 2);
// A 16-write batch of 256 B KV rows dirties a few 4 KiB pages: four WAL frames (4 KiB + 24 B each).
const block = Buffer.alloc(Number(bytesArg ?? 4 * (4096 + 24)), 0x5a);
const fd = openSync(join(dir, 'wal'), 'w');
const times = [];
const end = performance.now() + seconds * 1000;
let bytes = 0;
try {
  while (performance.now() < end) {
    const t0 = performance.now();
    writeSync(fd, block);
    fdatasyncSync(fd);
    times.push(performance.now() - t0);
    // Like a WAL that is checkpointed and restarted: do not grow the file without bound.
    bytes += block.length;
    if (bytes > 64 * 1024 * 1024) {
      closeSync(fd);
      rmSync(join(dir, 'wal'));
      bytes = 0;
      times.push(NaN);
      break;
    }
  }
} finally {
  try {
    closeSync(fd);
  } catch {
    // already closed at the size bound
  }
  rmSync(dir, { recursive: true, force: true });
}
const ok = times.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
const q = (p) => ok[Math.min(ok.length - 1, Math.floor(p * ok.length))];
const total = ok.reduce((s, t) => s + t, 0);
process.stdout.write(`${JSON.stringify({ rate: ok.length / (total / 1000), p50_ms: q(0.5), p99_ms: q(0.99), n: ok.length })}\n`);
