// Shared by the durable-write tests (group commit): SQLite env, PUT, drain, kill -9, durability check.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';
import { BIN } from './helpers.js';

const dirs: { remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
});
export function fresh(): string {
  const d = tempDir();
  dirs.push(d);
  return d.path;
}

export const sqlite = (path: string): Record<string, string> => ({
  MICRONODE_STORAGE_ENGINE: 'sqlite',
  MICRONODE_STORAGE_PATH: path,
});

export function put(
  url: string,
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/v1/kv/${path}`, { method: 'PUT', body, headers });
}

export async function drain(r: Response): Promise<number> {
  await r.arrayBuffer();
  return r.status;
}

/** kill -9 and wait for the exit. */
export async function killed(p: Program): Promise<void> {
  const exit = await p.stop('SIGKILL');
  assert.equal(exit.signal, 'SIGKILL');
}

/** Every acknowledged key reads back with exactly its acknowledged body. */
export async function assertAllDurable(url: string, acked: Map<string, string>): Promise<void> {
  const missing: string[] = [];
  for (const [path, body] of acked) {
    const r = await fetch(`${url}/v1/kv/${path}`);
    const text = await r.text();
    if (r.status !== 200 || text !== body) missing.push(`${path}: ${r.status}`);
  }
  assert.deepEqual(missing, [], `acknowledged writes lost: ${missing.slice(0, 10).join(', ')}`);
}

/** micronode on SQLite at `path`, on an ephemeral port; a generous ready timeout for a loaded CI machine. */
export function startSqlite(path: string): Promise<Program> {
  return spawnProgram({ bin: BIN, args: ['--bind', '127.0.0.1:0'], env: sqlite(path), timeoutMs: 60_000 });
}
