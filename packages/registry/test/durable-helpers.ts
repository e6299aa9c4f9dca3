// Shared by the durability fault tests (kill9-storm, full-disk): real svc-registry processes on
// SQLite with one allowed signer, signed commits, and the check that every acknowledged commit is in
// the log under a valid chain.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';
import {
  generateKeyFile,
  initChain,
  signBytes,
  signedBytes,
  type KeyFile,
  type LogEntry,
} from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { type Head } from '../src/log-entry.js';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));

export interface DurableRig {
  /** A temp dir removed after the file's tests. */
  dir: string;
  key: KeyFile;
  /** Starts svc-registry on `db` (ephemeral loopback ports); SIGKILLed after the tests if still up. */
  spawn(db: string): Promise<Program>;
}

/** One signer, a temp dir, and cleanup registered with `after()`. */
export async function durableRig(prefix: string): Promise<DurableRig> {
  await initChain();
  const dir = tempDir(prefix);
  const started: Program[] = [];
  after(async () => {
    for (const p of started) await p.stop('SIGKILL');
    dir.remove();
  });
  const key = generateKeyFile();
  const env = { SIGNER_ALLOWLIST: key.signer_id, SIG_THRESHOLD: '1', LOG_LEVEL: 'info' };
  return {
    dir: dir.path,
    key,
    spawn: async (db) => {
      const p = await spawnProgram({
        bin: BIN,
        args: ['--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0', '--db', db],
        env,
      });
      started.push(p);
      return p;
    },
  };
}

export async function head(url: string): Promise<Head> {
  return (await (await fetch(`${url}/registry/head`)).json()) as Head;
}

/** Posts the commit of `payload` signed by `key` for `version`: its status and parsed body. */
export async function commitSigned(
  url: string,
  key: KeyFile,
  version: number,
  payload: string,
): Promise<{ status: number; body: unknown }> {
  const sig = signBytes(
    key,
    signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }),
  );
  const res = await fetch(`${url}/registry/commit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload_b3: payload, signatures: [sig] }),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * The whole log read back through `/registry/history`: the chain verifies up to the head, the head is
 * at or past the last acknowledged version, and every acknowledged commit (version → payload) is
 * there with its payload. Returns the head.
 */
export async function assertAllAcknowledged(
  url: string,
  acked: Map<number, string>,
  label: string,
): Promise<Head> {
  const h = await head(url);
  const last = Math.max(0, ...acked.keys());
  assert.ok(h.version >= last, `${label}: head ${h.version} < last acknowledged ${last}`);
  const v = new ChainVerifier();
  let seen = 0;
  for (let from = 1; from <= h.version; from += 1000) {
    const page = (await (await fetch(`${url}/registry/history?from=${from}&limit=1000`)).json()) as {
      entries: LogEntry[];
    };
    for (const e of page.entries) {
      v.push(e);
      const want = acked.get(e.version);
      if (want === undefined) continue;
      assert.equal(e.payload_b3, want, `${label}: version ${e.version}`);
      seen++;
    }
  }
  assert.equal(v.version, h.version);
  assert.equal(h.chain_b3, v.prev);
  assert.equal(seen, acked.size, `${label}: every acknowledged commit is in the log`);
  return h;
}
