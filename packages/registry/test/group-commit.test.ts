// The registry on the kernel's group-commit writer: pipelined appends share a batch, a refused write
// leaves its batch-mates applied, the head and the listeners move only after the batch is durable.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '@ron/testkit';
import {
  Registry,
  SqliteStore,
  ZERO_B3,
  generateKeyFile,
  initChain,
  seal,
  signBytes,
  signedBytes,
  type LogEntry,
  type LogStore,
} from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { StoreConflictError } from '../src/errors.js';
import { type ProposalRecord } from '../src/store.js';

const dir = tempDir('ron-registry-gc-');
after(() => dir.remove());
await initChain();
const key = generateKeyFile();
let n = 0;
const dbPath = (): string => join(dir.path, `r${n++}.db`);

const sign = (payload: string, version: number): ReturnType<typeof signBytes> =>
  signBytes(key, signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }));

function entry(version: number, prev: string): LogEntry {
  return seal({
    version,
    op: 'commit',
    payload_b3: `b3:p${version}`,
    prev_b3: prev,
    committed_at: new Date(0).toISOString(),
    signatures: [],
  });
}

function proposal(id: string): ProposalRecord {
  return {
    id,
    subject: { op: 'publish', descriptor: { id: 'x', version: 1 } } as unknown as ProposalRecord['subject'],
    signatures: [],
    created_at: 0,
    expires_at: 1,
  };
}

function rows(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare('SELECT version FROM registry_log ORDER BY version').all() as { version: number }[]
    ).map((r) => r.version);
  } finally {
    db.close();
  }
}

test('store: appends submitted in one turn share a batch; a refused append (wrong version) leaves its batch-mates applied', async () => {
  const path = dbPath();
  const store = new SqliteStore(path);
  assert.equal(store.pipelined, true);
  const e1 = entry(1, ZERO_B3);
  const e2 = entry(2, e1.entry_b3);
  const e3 = entry(3, e2.entry_b3);
  // All submitted without awaiting: one batch. The gap (version 9) is refused inside it.
  const results = await Promise.allSettled([
    store.append(e1),
    store.append(e2),
    store.append(entry(9, e2.entry_b3)),
    store.putProposal(proposal('p1')),
    store.append(e3),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  assert.ok((results[2] as PromiseRejectedResult).reason instanceof StoreConflictError);
  assert.deepEqual(
    (await store.range(0, 10)).map((e) => e.version),
    [1, 2, 3],
  );
  assert.equal((await store.getProposal('p1'))?.id, 'p1');
  await store.close();
  assert.deepEqual(rows(path), [1, 2, 3]);
  // Durable: a fresh open sees the same.
  const again = new SqliteStore(path);
  assert.equal((await again.last())?.version, 3);
  await again.close();
});

test('registry: 16 commits in flight are sealed in call order, one with a bad signature is refused alone, listeners see every version once and in order', async () => {
  const path = dbPath();
  const { registry } = await Registry.open(new SqliteStore(path), {
    registryId: 'default',
    signers: [key.signer_id],
    threshold: 1,
  });
  const seen: number[] = [];
  const heads: number[] = [];
  const committed: Promise<boolean>[] = [];
  const store = registry.store;
  registry.onAppend((e, h) => {
    seen.push(e.version);
    heads.push(h.version);
    // The head (and so the stream) moves only once the entry is committed: a read on the store's
    // connection (which only ever sees committed state), issued right then, finds it.
    committed.push(store.get(e.version).then((r) => r !== undefined));
  });
  const calls: Promise<unknown>[] = [];
  let version = 0;
  for (let i = 0; i < 16; i++) {
    const payload = `b3:c${i}`;
    if (i === 7) {
      // Signed for a version it does not create: refused before sealing, the rest go on.
      calls.push(registry.commit({ payload_b3: payload, signatures: [sign(payload, version + 5)] }));
      continue;
    }
    version++;
    calls.push(registry.commit({ payload_b3: payload, signatures: [sign(payload, version)] }));
  }
  // Nothing is durable yet: the head has not moved.
  assert.equal(registry.head.version, 0);
  const out = await Promise.allSettled(calls);
  assert.equal(out.filter((r) => r.status === 'rejected').length, 1);
  assert.equal(out[7]!.status, 'rejected');
  assert.equal(registry.head.version, 15);
  assert.deepEqual(
    seen,
    Array.from({ length: 15 }, (_, i) => i + 1),
  );
  assert.deepEqual(heads, seen);
  assert.deepEqual(await Promise.all(committed), Array(15).fill(true));
  const v = new ChainVerifier();
  for (const e of await registry.store.range(0, 100)) v.push(e);
  assert.equal(v.version, 15);
  assert.equal(registry.head.chain_b3, v.prev);
  await registry.store.close();
});

test('registry: a failed append fails every entry sealed on top of it, the head does not move, and the next commit seals on the durable head', async () => {
  const path = dbPath();
  const real = new SqliteStore(path);
  // The store fails version 2 (as a failed COMMIT would: nothing written); 3 and 4, already sealed
  // on top of it and handed over, reach the real store, which refuses them (not head + 1).
  let failNext = false;
  const store: LogStore = {
    kind: real.kind,
    location: real.location,
    pipelined: true,
    append: (e) => {
      if (failNext && e.version === 2) {
        failNext = false;
        return Promise.reject(new Error('injected: the batch could not commit'));
      }
      return real.append(e);
    },
    range: (a, l) => real.range(a, l),
    get: (v) => real.get(v),
    last: () => real.last(),
    putProposal: (p) => real.putProposal(p),
    getProposal: (id) => real.getProposal(id),
    listProposals: () => real.listProposals(),
    deleteProposals: (ids) => real.deleteProposals(ids),
    floor: () => real.floor(),
    isOpen: () => real.isOpen(),
    close: () => real.close(),
  };
  const { registry } = await Registry.open(store, {
    registryId: 'default',
    signers: [key.signer_id],
    threshold: 1,
  });
  assert.equal((await registry.commit({ payload_b3: 'b3:a', signatures: [sign('b3:a', 1)] })).version, 1);
  const seen: number[] = [];
  registry.onAppend((e) => seen.push(e.version));
  failNext = true;
  const out = await Promise.allSettled(
    [2, 3, 4].map((v) => registry.commit({ payload_b3: `b3:d${v}`, signatures: [sign(`b3:d${v}`, v)] })),
  );
  assert.deepEqual(
    out.map((r) => r.status),
    ['rejected', 'rejected', 'rejected'],
  );
  assert.equal(registry.head.version, 1);
  assert.equal(registry.degraded, true);
  assert.deepEqual(seen, []);
  // Sealed again on the durable head: version 2.
  assert.equal((await registry.commit({ payload_b3: 'b3:b', signatures: [sign('b3:b', 2)] })).version, 2);
  assert.equal(registry.degraded, false);
  assert.deepEqual(seen, [2]);
  const v = new ChainVerifier();
  for (const e of await registry.store.range(0, 10)) v.push(e);
  assert.equal(registry.head.chain_b3, v.prev);
  await real.close();
  assert.deepEqual(rows(path), [1, 2]);
});
