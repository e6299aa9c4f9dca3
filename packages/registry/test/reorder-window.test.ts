// The reorder window (docs/registry.md "Reorder window"): on SQLite, a signed commit for a version a
// little ahead of the pending head waits, bounded, for the versions below it; it is then sealed in
// order in the same group commit, or answered after the window with the refusal it had at once.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sseConnect, tempDir } from '@ron/testkit';
import { ApiError } from '@ron/kernel';
import {
  Registry,
  SqliteStore,
  generateKeyFile,
  initChain,
  signBytes,
  signedBytes,
  type LogEntry,
  type LogStore,
} from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { type CommitOutcome } from '../src/commit-check.js';
import { type Head } from '../src/log-entry.js';
import { type RegistryOptions } from '../src/registry.js';
import { json, startTestRegistry, type ErrorBody } from './helpers.js';

const dir = tempDir('ron-registry-reorder-');
after(() => dir.remove());
await initChain();
const key = generateKeyFile();
let n = 0;
const dbPath = (): string => join(dir.path, `r${n++}.db`);

const sign = (payload: string, version: number): ReturnType<typeof signBytes> =>
  signBytes(key, signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }));
const commitFor = (version: number, payload = `b3:v${version}`) => ({
  payload_b3: payload,
  signatures: [sign(payload, version)],
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A SQLite store that records the versions handed to it, to see which appends were queued together. */
function recording(path: string): { store: LogStore; appended: number[] } {
  const real = new SqliteStore(path);
  const appended: number[] = [];
  const store: LogStore = {
    kind: real.kind,
    location: real.location,
    pipelined: true,
    append: (e) => {
      appended.push(e.version);
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
  return { store, appended };
}

async function open(
  store: LogStore,
  reorder: RegistryOptions['reorder'] = { windowMs: 200, depth: 16 },
  extra: Partial<RegistryOptions> = {},
): Promise<Registry> {
  const { registry } = await Registry.open(store, {
    registryId: 'default',
    signers: [key.signer_id],
    threshold: 1,
    ...(reorder !== undefined ? { reorder } : {}),
    ...extra,
  });
  return registry;
}

async function verifiedChain(registry: Registry): Promise<LogEntry[]> {
  const entries = await registry.store.range(0, 10_000);
  const v = new ChainVerifier();
  for (const e of entries) v.push(e);
  assert.equal(v.version, registry.head.version);
  assert.equal(registry.head.chain_b3, v.prev);
  return entries;
}

test('commits arriving out of order within the window are sealed in version order, the filled gap in the same group commit', async () => {
  const { store, appended } = recording(dbPath());
  const reorder: string[] = [];
  const registry = await open(store, { windowMs: 500, depth: 16 }, { onReorder: (r) => reorder.push(r) });
  const seen: number[] = [];
  registry.onAppend((e) => seen.push(e.version));
  // 4, 3 and 2 arrive first, each in its own turn: nothing is sealed, nothing is answered.
  const early = [4, 3, 2].map((v) => registry.commit(commitFor(v)));
  await sleep(20);
  assert.deepEqual(appended, []);
  assert.equal(registry.head.version, 0);
  // 1 arrives: 1, 2, 3, 4 are sealed at once, in the same turn, so they share one batch.
  const first = registry.commit(commitFor(1));
  assert.deepEqual(appended, [1, 2, 3, 4]);
  const heads = await Promise.all([first, ...early]);
  assert.deepEqual(
    heads.map((h) => h.version),
    [1, 4, 3, 2],
  );
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.deepEqual(reorder, ['sealed', 'sealed', 'sealed']);
  const entries = await verifiedChain(registry);
  assert.deepEqual(
    entries.map((e) => e.payload_b3),
    ['b3:v1', 'b3:v2', 'b3:v3', 'b3:v4'],
  );
  await store.close();
});

test('16 clients whose commits arrive in a random order: all acknowledged, listener order = version order, valid chain', async () => {
  const path = dbPath();
  const registry = await open(new SqliteStore(path), { windowMs: 1000, depth: 16 });
  const seen: number[] = [];
  registry.onAppend((e) => seen.push(e.version));
  let version = 0;
  for (let round = 0; round < 20; round++) {
    const versions = Array.from({ length: 16 }, () => ++version);
    // A fixed shuffle per round, arrivals spread over a few turns.
    const order = versions
      .map((v) => ({ v, k: (v * 7919 + round * 104729) % 97 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.v);
    const calls: Promise<Head>[] = [];
    for (const [i, v] of order.entries()) {
      calls.push(registry.commit(commitFor(v)));
      if (i % 5 === 4) await new Promise((r) => setImmediate(r));
    }
    const heads = await Promise.all(calls);
    assert.deepEqual(
      heads.map((h) => h.version),
      order,
    );
  }
  assert.equal(registry.head.version, 320);
  assert.deepEqual(
    seen,
    Array.from({ length: 320 }, (_, i) => i + 1),
  );
  const entries = await verifiedChain(registry);
  for (const e of entries) assert.equal(e.payload_b3, `b3:v${e.version}`);
  await registry.store.close();
});

test('a gap that never fills: after the window the commit gets exactly the refusal it gets without a window', async () => {
  const outcomes: CommitOutcome[] = [];
  const expired: string[] = [];
  const windowed = await open(
    new SqliteStore(dbPath()),
    { windowMs: 150, depth: 16 },
    { onReorder: (r) => expired.push(r) },
  );
  const plain = await open(new SqliteStore(dbPath()), undefined);
  const t0 = performance.now();
  const late = await windowed
    .commit(commitFor(3), (o) => outcomes.push(o))
    .then(
      () => assert.fail('a commit for version 3 on an empty log must not be acknowledged'),
      (err: unknown) => err,
    );
  const waited = performance.now() - t0;
  const now = await plain.commit(commitFor(3)).then(
    () => assert.fail('refused'),
    (err: unknown) => err,
  );
  assert.ok(waited >= 140, `answered after ${waited.toFixed(0)} ms, before the 150 ms window`);
  assert.ok(late instanceof ApiError && now instanceof ApiError);
  assert.equal(late.code, 'BadSignature');
  assert.equal(late.status, now.status);
  assert.equal(late.code, now.code);
  assert.equal(late.message, now.message);
  assert.deepEqual(outcomes, ['bad_signature']);
  assert.deepEqual(expired, ['expired']);
  assert.equal(windowed.head.version, 0);
  // The log goes on: version 1 is still free.
  assert.equal((await windowed.commit(commitFor(1))).version, 1);
  await windowed.store.close();
  await plain.store.close();
});

test('a version already taken or already waited for is refused at once; a bad signature is not held', async () => {
  const registry = await open(new SqliteStore(dbPath()), { windowMs: 5000, depth: 16 });
  assert.equal((await registry.commit(commitFor(1))).version, 1);
  const quick = async (p: Promise<unknown>): Promise<ApiError> => {
    const t0 = performance.now();
    const err = await p.then(
      () => assert.fail('must be refused'),
      (e: unknown) => e,
    );
    assert.ok(performance.now() - t0 < 1000, 'refused at once, not after the window');
    assert.ok(err instanceof ApiError);
    return err;
  };
  // Version 1 is taken: a second commit signed for it (another payload) is refused at once.
  assert.equal((await quick(registry.commit(commitFor(1, 'b3:again')))).code, 'BadSignature');
  // Version 3 is ahead: the first commit for it waits; a second one for 3 is refused at once.
  const waiting = registry.commit(commitFor(3));
  assert.equal((await quick(registry.commit(commitFor(3, 'b3:other')))).code, 'BadSignature');
  // A signature by an unknown signer, or one that verifies at no version, is refused at once.
  const stranger = generateKeyFile();
  const bad = {
    payload_b3: 'b3:x',
    signatures: [
      signBytes(stranger, signedBytes({ registry: 'default', op: 'commit', payload_b3: 'b3:x', version: 3 })),
    ],
  };
  assert.equal((await quick(registry.commit(bad))).code, 'BadSignature');
  // Beyond the depth (16 ahead of the pending head): refused at once.
  assert.equal((await quick(registry.commit(commitFor(1 + 17)))).code, 'BadSignature');
  // 2 fills the gap: 3 is sealed after it.
  assert.equal((await registry.commit(commitFor(2))).version, 2);
  assert.equal((await waiting).version, 3);
  const entries = await verifiedChain(registry);
  assert.deepEqual(
    entries.map((e) => e.payload_b3),
    ['b3:v1', 'b3:v2', 'b3:v3'],
  );
  await registry.store.close();
});

test('the trials are bounded: commits signed for long-taken versions spend the budget, then an early commit is refused at once; sealed commits earn it back', async () => {
  const registry = await open(new SqliteStore(dbPath()), { windowMs: 5000, depth: 16 });
  for (let v = 1; v <= 3; v++) assert.equal((await registry.commit(commitFor(v))).version, v);
  const refusedQuickly = async (p: Promise<unknown>): Promise<void> => {
    const t0 = performance.now();
    const err = await p.then(
      () => assert.fail('must be refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiError && err.code === 'BadSignature');
    assert.ok(performance.now() - t0 < 1000, 'refused at once');
  };
  // Stale commits (signed for version 1, long taken): each tries the version just taken and the 15
  // ahead, until the budget (8 per sealed commit, 8 × depth banked) is spent.
  for (let i = 0; i < 12; i++) await refusedQuickly(registry.commit(commitFor(1, `b3:stale${i}`)));
  // Budget spent: a commit for version 5 (4 is missing) is refused at once instead of waiting.
  await refusedQuickly(registry.commit(commitFor(5)));
  // Sealing earns it back: 4 in order, then 6 (5 missing) waits and 5 fills the gap.
  assert.equal((await registry.commit(commitFor(4))).version, 4);
  const waiting = registry.commit(commitFor(6));
  await sleep(20);
  assert.equal(registry.head.version, 4);
  assert.equal((await registry.commit(commitFor(5))).version, 5);
  assert.equal((await waiting).version, 6);
  await verifiedChain(registry);
  await registry.store.close();
});

test('closeReorderWindow answers waiting commits now (the refusal) and later ones at once', async () => {
  const registry = await open(new SqliteStore(dbPath()), { windowMs: 60_000, depth: 16 });
  const t0 = performance.now();
  const waiting = registry.commit(commitFor(2));
  await sleep(10);
  registry.closeReorderWindow();
  const err = await waiting.then(
    () => assert.fail('refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiError && err.code === 'BadSignature');
  const later = await registry.commit(commitFor(3)).then(
    () => assert.fail('refused'),
    (e: unknown) => e,
  );
  assert.ok(later instanceof ApiError && later.code === 'BadSignature');
  assert.ok(performance.now() - t0 < 5000);
  // In-order commits still go through.
  assert.equal((await registry.commit(commitFor(1))).version, 1);
  await registry.store.close();
});

test('a governed entry takes the version below a waiting commit: the commit is sealed after it', async () => {
  const registry = await open(new SqliteStore(dbPath()), { windowMs: 1000, depth: 16 });
  const waiting = registry.commit(commitFor(2));
  await sleep(5);
  const g = await registry.appendGoverned({
    op: 'publish',
    descriptor_id: 'svc-a@r1',
    payload_b3: 'b3:gov',
    body: { id: 'svc-a@r1', kind: 'service', version: 1, body: {} },
    signatures: [],
  });
  assert.equal(g.version, 1);
  assert.equal((await waiting).version, 2);
  await verifiedChain(registry);
  await registry.store.close();
});

test('HTTP on SQLite: commits posted in reverse order are all 200 and streamed in version order; a gap answers 422 after limits.reorder_window', async () => {
  const r = await startTestRegistry(
    { REGISTRY_LIMITS__REORDER_WINDOW: '300ms' },
    { keys: 1, threshold: 1, store: new SqliteStore(dbPath()) },
  );
  const k = r.keys[0]!;
  const body = (v: number, payload = `b3:h${v}`) => ({
    payload_b3: payload,
    signatures: [r.sign(payload, v, k)],
  });
  try {
    const stream = await sseConnect(`${r.apiUrl}/registry/stream`);
    const posts = [5, 4, 3, 2].map((v) => r.post(body(v)));
    await sleep(30);
    posts.push(r.post(body(1)));
    const res = await Promise.all(posts);
    assert.deepEqual(
      res.map((x) => x.status),
      [200, 200, 200, 200, 200],
    );
    assert.deepEqual(
      (await Promise.all(res.map((x) => json<Head>(x)))).map((h) => h.version),
      [5, 4, 3, 2, 1],
    );
    await stream.next((e) => e.event === 'commit' && e.id === '5', 5000);
    const ids = stream.events.filter((e) => e.event === 'commit').map((e) => e.id);
    assert.deepEqual(ids, ['1', '2', '3', '4', '5']);
    stream.close();

    // A gap that never fills: the refusal, after the window, as without one.
    const t0 = performance.now();
    const gap = await r.post(body(7));
    assert.ok(performance.now() - t0 >= 280);
    assert.equal(gap.status, 422);
    assert.equal((await json<ErrorBody>(gap)).error.code, 'BadSignature');
    const metrics = await (await fetch(`${r.adminUrl}/metrics`)).text();
    assert.match(metrics, /registry_commit_reorder_total\{result="sealed"\} 4/);
    assert.match(metrics, /registry_commit_reorder_total\{result="expired"\} 1/);
  } finally {
    await r.close();
  }
});

test('HTTP: shutdown answers a commit waiting in the reorder window (422 now) instead of leaving it to its window', async () => {
  const r = await startTestRegistry(
    { REGISTRY_LIMITS__REORDER_WINDOW: '5s' },
    { keys: 1, threshold: 1, store: new SqliteStore(dbPath()) },
  );
  const k = r.keys[0]!;
  try {
    const pending = r.post({ payload_b3: 'b3:w', signatures: [r.sign('b3:w', 3, k)] }).then(
      async (x) => ({ status: x.status, code: (await json<ErrorBody>(x)).error.code }),
      () => ({ status: 0, code: 'connection closed' }),
    );
    await sleep(50);
    const t0 = performance.now();
    await r.close(4000);
    const answer = await pending;
    assert.ok(performance.now() - t0 < 3000, 'answered at shutdown, not after the 5 s window');
    assert.deepEqual(answer, { status: 422, code: 'BadSignature' });
  } finally {
    await r.close();
  }
});
