// The change stream (SPEC §2.3): ordered, unique, reliable, resumable, bookmarked, bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sseConnect, waitFor, type SseEvent } from '@ron/testkit';
import { MemoryStore, type LogEntry, type LogStore } from '../src/index.js';
import { type ProposalRecord } from '../src/store.js';
import { json, startTestRegistry, type ErrorBody } from './helpers.js';

const commits = (events: SseEvent[]): number[] =>
  events.filter((e) => e.event === 'commit').map((e) => Number(e.id));
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('live: each commit arrives once as event: commit with id and summary; retry is 2000', async () => {
  const r = await startTestRegistry({}, { threshold: 1 });
  try {
    const c = await sseConnect(`${r.apiUrl}/registry/stream`);
    assert.equal(c.status, 200);
    assert.match(String(c.headers['content-type']), /^text\/event-stream/);
    await c.next((e) => e.event === 'heartbeat');
    assert.equal(c.retry, 2000);
    for (let i = 1; i <= 5; i++) assert.equal((await r.commit(`b3:live${i}`)).status, 200);
    await c.next((e) => e.event === 'commit' && e.id === '5');
    assert.deepEqual(commits(c.events), [1, 2, 3, 4, 5]);
    const d = JSON.parse(c.events.find((e) => e.id === '3')!.data) as Record<string, unknown>;
    assert.equal(d.version, 3);
    assert.equal(d.payload_b3, 'b3:live3');
    assert.equal(
      d.entry_b3,
      r.registry.head.version === 5
        ? (await json<{ entry_b3: string }>(await fetch(`${r.apiUrl}/registry/3`))).entry_b3
        : '',
    );
    c.close();
    // The alias serves the same stream.
    const alias = await sseConnect(`${r.apiUrl}/v1/registry/stream?from=4`);
    await alias.next((e) => e.id === '5');
    assert.deepEqual(commits(alias.events), [5]);
    alias.close();
  } finally {
    await r.close();
  }
});

test('heartbeat is a bookmark: head in the heartbeat never exceeds what was sent on the connection', async () => {
  const r = await startTestRegistry({ REGISTRY_SSE__HEARTBEAT_MS: '20' }, { threshold: 1 });
  try {
    for (let i = 1; i <= 3; i++) await r.commit(`b3:hb${i}`);
    const c = await sseConnect(`${r.apiUrl}/registry/stream?from=0`);
    const first = await c.next((e) => e.event === 'heartbeat');
    assert.equal((JSON.parse(first.data) as { head: number }).head, 3);
    for (let i = 4; i <= 8; i++) await r.commit(`b3:hb${i}`);
    await c.next((e) => e.event === 'heartbeat' && (JSON.parse(e.data) as { head: number }).head === 8);
    // Invariant over the whole transcript: every heartbeat head ≤ last commit id seen before it.
    let last = 0;
    let n = 0;
    for (const e of c.events) {
      if (e.event === 'commit') {
        assert.equal(Number(e.id), last + 1);
        last = Number(e.id);
      } else if (e.event === 'heartbeat') {
        const hb = JSON.parse(e.data) as { n: number; head: number };
        assert.ok(hb.head <= last, `heartbeat head ${hb.head} ahead of delivered ${last}`);
        assert.ok(hb.n > n);
        n = hb.n;
      }
    }
    c.close();
  } finally {
    await r.close();
  }
});

test('resume with Last-Event-ID and ?from= replays exactly the missing entries, then goes live', async () => {
  const r = await startTestRegistry({}, { threshold: 1 });
  try {
    for (let i = 1; i <= 10; i++) await r.commit(`b3:r${i}`);
    const a = await sseConnect(`${r.apiUrl}/registry/stream`, { 'last-event-id': '6' });
    const b = await sseConnect(`${r.apiUrl}/registry/stream?from=0`);
    await a.next((e) => e.event === 'heartbeat');
    await b.next((e) => e.event === 'heartbeat');
    await r.commit('b3:r11');
    await a.next((e) => e.id === '11');
    await b.next((e) => e.id === '11');
    assert.deepEqual(commits(a.events), [7, 8, 9, 10, 11]);
    assert.deepEqual(commits(b.events), range(1, 11));
    a.close();
    b.close();
    const bad = await fetch(`${r.apiUrl}/registry/stream?from=abc`);
    assert.equal(bad.status, 400);
  } finally {
    await r.close();
  }
});

test('resume while commits land during the replay: no gap, no duplicate', async () => {
  const r = await startTestRegistry({}, { threshold: 1 });
  try {
    for (let i = 1; i <= 600; i++) await r.commit(`b3:pre${i}`);
    // Start a long replay (several store pages) and commit concurrently with it.
    const connecting = sseConnect(`${r.apiUrl}/registry/stream?from=0`);
    const writer = (async () => {
      for (let i = 0; i < 50; i++) assert.equal((await r.commit(`b3:during${i}`)).status, 200);
    })();
    const c = await connecting;
    await writer;
    await c.next((e) => e.id === '650', 15_000);
    assert.deepEqual(commits(c.events), range(1, 650));
    c.close();
  } finally {
    await r.close();
  }
});

/** A store whose reads can be held open, to land commits in the middle of a replay. */
class GatedStore implements LogStore {
  readonly kind = 'memory' as const;
  readonly location = 'gated';
  readonly inner = new MemoryStore();
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  waiting = 0;
  hold(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  release(): void {
    this.#gate = undefined;
    this.#open?.();
  }
  append(e: LogEntry): Promise<void> {
    return this.inner.append(e);
  }
  async range(after: number, limit: number): Promise<LogEntry[]> {
    if (this.#gate !== undefined) {
      this.waiting++;
      await this.#gate;
    }
    return this.inner.range(after, limit);
  }
  get(v: number): Promise<LogEntry | undefined> {
    return this.inner.get(v);
  }
  last(): Promise<LogEntry | undefined> {
    return this.inner.last();
  }
  floor(): number {
    return this.inner.floor();
  }
  putProposal(p: ProposalRecord): Promise<void> {
    return this.inner.putProposal(p);
  }
  getProposal(id: string): Promise<ProposalRecord | undefined> {
    return this.inner.getProposal(id);
  }
  listProposals(): Promise<ProposalRecord[]> {
    return this.inner.listProposals();
  }
  deleteProposals(ids: readonly string[]): Promise<void> {
    return this.inner.deleteProposals(ids);
  }
  isOpen(): boolean {
    return this.inner.isOpen();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test('deterministic: commits that land while the replay read is in flight are delivered once, in order', async () => {
  const store = new GatedStore();
  const r = await startTestRegistry({ READ_CACHE_CAP: '0' }, { threshold: 1, store });
  try {
    for (let i = 1; i <= 5; i++) assert.equal((await r.commit(`b3:g${i}`)).status, 200);
    store.hold();
    const c = await sseConnect(`${r.apiUrl}/registry/stream?from=2`);
    await waitFor(() => store.waiting === 1);
    // The replay is parked inside its store read: commit 6..8 now.
    for (let i = 6; i <= 8; i++) assert.equal((await r.commit(`b3:g${i}`)).status, 200);
    store.release();
    await c.next((e) => e.id === '8');
    await r.commit('b3:g9');
    await c.next((e) => e.id === '9');
    assert.deepEqual(commits(c.events), [3, 4, 5, 6, 7, 8, 9]);
    c.close();
  } finally {
    await r.close();
  }
});

test('a slow consumer is dropped while commits continue, then resumes with Last-Event-ID and gets every entry once, in order', async () => {
  const r = await startTestRegistry(
    { REGISTRY_SSE__CLIENT_BUFFER: '64', REGISTRY_SSE__CLIENT_BUFFER_BYTES: '64KiB' },
    { threshold: 1 },
  );
  try {
    const fast = await sseConnect(`${r.apiUrl}/registry/stream?from=0`);
    const slow = await sseConnect(`${r.apiUrl}/registry/stream?from=0`);
    await slow.next((e) => e.event === 'heartbeat');
    slow.pause();
    const key = r.keys[0]!;
    const pad = 'x'.repeat(120);
    // Keep committing until the slow client has been dropped (its socket buffers fill first, then
    // its bounded queue): the writer never waits for it. Then a few more through HTTP.
    let dropped = 0;
    while (dropped === 0) {
      for (let i = 0; i < 500; i++) {
        const v = r.registry.head.version + 1;
        await r.registry.commit({
          payload_b3: `b3:${pad}${v}`,
          signatures: [r.sign(`b3:${pad}${v}`, v, key)],
        });
        // Let the event loop turn now and then, as HTTP commits would: healthy readers keep up.
        if (i % 16 === 0) await new Promise((res) => setImmediate(res));
      }
      dropped = (await r.metrics.sseDropped.get()).values[0]?.value ?? 0;
      assert.ok(r.registry.head.version < 200_000, 'slow client was never dropped');
    }
    for (let i = 0; i < 5; i++) assert.equal((await r.commit(`b3:after${i}`)).status, 200);
    const total = r.registry.head.version;
    assert.equal(dropped, 1);
    assert.equal((await r.metrics.busLagged.get()).values[0]?.value, 1);
    slow.close();
    // The healthy client got everything.
    await fast.next((e) => e.id === String(total), 20_000);
    assert.deepEqual(commits(fast.events), range(1, total));
    fast.close();
    // The slow client saw a prefix of the log (never a gap).
    const seen = commits(slow.events);
    assert.deepEqual(seen, range(1, seen.length));
    const last = seen.at(-1) ?? 0;
    const resumed = await sseConnect(`${r.apiUrl}/registry/stream`, { 'last-event-id': String(last) });
    await resumed.next((e) => e.id === String(total), 30_000);
    assert.deepEqual([...seen, ...commits(resumed.events)], range(1, total));
    resumed.close();
  } finally {
    await r.close();
  }
});

test('the dropped event names last_delivered and head, and everything up to last_delivered was sent', async () => {
  const r = await startTestRegistry(
    { REGISTRY_SSE__CLIENT_BUFFER: '4', REGISTRY_SSE__CLIENT_BUFFER_BYTES: '4KiB' },
    { threshold: 1 },
  );
  try {
    const c = await sseConnect(`${r.apiUrl}/registry/stream`);
    await c.next((e) => e.event === 'heartbeat');
    const key = r.keys[0]!;
    // Ten appends in one event-loop turn (before any flush) overflow a 4-event queue.
    const burst = Array.from({ length: 10 }, (_, i) =>
      r.registry.commit({ payload_b3: `b3:b${i}`, signatures: [r.sign(`b3:b${i}`, i + 1, key)] }),
    );
    await Promise.all(burst);
    const dropped = await c.next((e) => e.event === 'dropped');
    const d = JSON.parse(dropped.data) as { last_delivered: number; head: number };
    assert.ok(d.head >= d.last_delivered && d.head <= 10);
    assert.deepEqual(commits(c.events), range(1, d.last_delivered));
    await c.ended;
  } finally {
    await r.close();
  }
});

test('a start below the retained floor gets a terminal reset {floor, head}', async () => {
  const r = await startTestRegistry({}, { threshold: 1, store: new MemoryStore({ retain: 5 }) });
  try {
    for (let i = 1; i <= 20; i++) await r.commit(`b3:f${i}`);
    const c = await sseConnect(`${r.apiUrl}/registry/stream?from=3`);
    const reset = await c.next((e) => e.event === 'reset');
    assert.deepEqual(JSON.parse(reset.data), { floor: 16, head: 20 });
    await c.ended;
    assert.deepEqual(commits(c.events), []);
    // At the floor boundary replay still works.
    const ok = await sseConnect(`${r.apiUrl}/registry/stream?from=15`);
    await ok.next((e) => e.id === '20');
    assert.deepEqual(commits(ok.events), [16, 17, 18, 19, 20]);
    ok.close();
    // A resume point beyond the head (another registry's id) is a reset too.
    const future = await sseConnect(`${r.apiUrl}/registry/stream?from=999`);
    await future.next((e) => e.event === 'reset');
    const gone = await fetch(`${r.apiUrl}/registry/2`);
    assert.equal(gone.status, 410);
  } finally {
    await r.close();
  }
});

test('over sse.max_clients is 503 TooManyStreams with Retry-After; a freed slot is reusable', async () => {
  const r = await startTestRegistry({ REGISTRY_SSE__MAX_CLIENTS: '2' });
  try {
    const a = await sseConnect(`${r.apiUrl}/registry/stream`);
    const b = await sseConnect(`${r.apiUrl}/registry/stream`);
    const c = await fetch(`${r.apiUrl}/registry/stream`);
    assert.equal(c.status, 503);
    assert.ok(c.headers.get('retry-after'));
    assert.equal((await json<ErrorBody>(c)).error.code, 'TooManyStreams');
    a.close();
    await waitFor(() => r.hub.clients === 1);
    const d = await sseConnect(`${r.apiUrl}/registry/stream`);
    assert.equal(d.status, 200);
    b.close();
    d.close();
  } finally {
    await r.close();
  }
});

test('shutdown ends open streams with a final event', async () => {
  const r = await startTestRegistry({}, { threshold: 1 });
  const c = await sseConnect(`${r.apiUrl}/registry/stream`);
  await c.next((e) => e.event === 'heartbeat');
  await r.close(1000);
  await c.ended;
  assert.equal(c.events.at(-1)?.event, 'shutdown');
});

test(
  'HEAD on the stream answers headers and ends: it opens no stream and holds no client slot',
  { timeout: 20_000 },
  async () => {
    const r = await startTestRegistry({ REGISTRY_SSE__MAX_CLIENTS: '1' });
    try {
      for (const path of ['/registry/stream', '/v1/registry/stream']) {
        // fetch() resolves on headers: a HEAD that is hijacked into a stream never sends them.
        const res = await fetch(`${r.apiUrl}${path}`, { method: 'HEAD' });
        assert.equal(res.status, 200);
        assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
        assert.ok(res.headers.get('x-request-id'));
        assert.equal(await res.text(), '');
        assert.equal(r.hub.clients, 0);
      }
      // The single slot is still free for a real stream.
      const c = await sseConnect(`${r.apiUrl}/registry/stream`);
      assert.equal(c.status, 200);
      await c.next((e) => e.event === 'heartbeat');
      // And HEAD mirrors GET's answer when the slots are full.
      const full = await fetch(`${r.apiUrl}/registry/stream`, { method: 'HEAD' });
      assert.equal(full.status, 503);
      assert.ok(full.headers.get('retry-after'));
      c.close();
    } finally {
      await r.close();
    }
  },
);
