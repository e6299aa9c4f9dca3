// Shared test helpers: spawn the real svc-storage bin, hash like b3sum, read metrics.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blake3 } from 'hash-wasm';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';

export const BIN = fileURLToPath(new URL('../../bin/svc-storage.js', import.meta.url));

const dirs: { remove(): void }[] = [];
/** A temp dir removed by {@link removeDirs} (call it from `after`). */
export function fresh(): string {
  const d = tempDir('ron-storage-');
  dirs.push(d);
  return d.path;
}
export function removeDirs(): void {
  for (const d of dirs.splice(0)) d.remove();
}

/** Starts svc-storage on an ephemeral port with its store in `dataDir`. */
export function startStorage(
  dataDir: string,
  env: Record<string, string | undefined> = {},
  args: string[] = [],
): Promise<Program> {
  return spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', '--data-dir', dataDir, ...args],
    env: { STORAGE_GC_INTERVAL: '50ms', ...env },
  });
}

let haveB3sum: boolean | undefined;
/**
 * The address of `data` as Debian's `b3sum` prints it (the reference), cross-checked against
 * hash-wasm; when b3sum is not installed, hash-wasm alone (its BLAKE3 passes the official vectors).
 */
export async function b3(data: Buffer): Promise<string> {
  const wasm = await blake3(data);
  haveB3sum ??= (() => {
    try {
      execFileSync('b3sum', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (haveB3sum) {
    const f = join(fresh(), 'blob');
    writeFileSync(f, data);
    const out = execFileSync('b3sum', ['--no-names', f], { encoding: 'utf8' }).trim();
    assert.equal(out, wasm, 'b3sum and hash-wasm agree');
  }
  return `b3:${wasm}`;
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export interface Put {
  status: number;
  body: { addr: string; size: number; chunks: number };
}

export async function put(url: string, data: Buffer): Promise<Put> {
  const r = await fetch(`${url}/v1/cas`, {
    method: 'POST',
    body: data,
    headers: { 'content-type': 'application/octet-stream' },
  });
  return { status: r.status, body: (await r.json()) as Put['body'] };
}

export interface Stats {
  objects: number;
  chunks: number;
  logical_bytes: number;
  stored_bytes: number;
  dedup_ratio: number;
}

export async function stats(url: string): Promise<Stats> {
  return (await (await fetch(`${url}/v1/cas/stats`)).json()) as Stats;
}

export async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

export async function stopped(p: Program): Promise<void> {
  const exit = await p.stop('SIGTERM');
  assert.equal(exit.code, 0);
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}
