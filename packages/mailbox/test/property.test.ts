// A property test over random interleavings of enqueue / receive / ack / nack / extend / expiry /
// sweep / redrive against a model of SPEC §4.5.3, on the store with an injectable clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MailboxStore, parseReceipt } from '@ron/mailbox';

const MAX_RECEIVES = 3;
const TOPICS = ['a', 'b'] as const;

interface ModelMsg {
  id: string;
  topic: string;
  seq: number;
  state: 'q' | 'dead' | 'acked';
  leased: boolean;
  lease: number;
  visibleAt: number;
  attempts: number;
}

type Op =
  | { k: 'enqueue'; topic: number }
  | { k: 'receive'; topic: number; max: number; vis: number }
  | { k: 'ack'; picks: number[] }
  | { k: 'nack'; picks: number[]; delay: number }
  | { k: 'extend'; picks: number[]; vis: number }
  | { k: 'advance'; ms: number }
  | { k: 'sweep' }
  | { k: 'redrive'; topic: number };

const topic = fc.integer({ min: 0, max: TOPICS.length - 1 });
const picks = fc.array(fc.nat(), { minLength: 1, maxLength: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('enqueue' as const), topic }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('receive' as const),
      topic,
      max: fc.integer({ min: 1, max: 4 }),
      vis: fc.integer({ min: 1, max: 50 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ack' as const), picks }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('nack' as const), picks, delay: fc.integer({ min: 0, max: 30 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('extend' as const), picks, vis: fc.integer({ min: 1, max: 50 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 40 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sweep' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('redrive' as const), topic }) },
);

test('the store follows the model over random interleavings (at-least-once, no acked redelivery, stale receipts change nothing)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
      let now = 1_000_000;
      const store = new MailboxStore({
        path: ':memory:',
        maxReceives: MAX_RECEIVES,
        dedupWindowMs: 1000,
        now: () => now,
      });
      const model = new Map<string, ModelMsg>();
      const receipts: string[] = [];
      const acked = new Set<string>();
      let seq = 0;
      const held = (r: string): ModelMsg | undefined => {
        const p = parseReceipt(r)!;
        const m = model.get(p.id);
        return m !== undefined && m.state === 'q' && m.leased && m.lease === p.lease ? m : undefined;
      };
      const chosen = (ps: number[]): string[] => [...new Set(ps.map((i) => receipts[i % receipts.length]!))];
      try {
        for (const o of ops) {
          switch (o.k) {
            case 'enqueue': {
              const t = TOPICS[o.topic]!;
              const r = await store.enqueue(t, Buffer.from(`m${seq}`));
              model.set(r.id, {
                id: r.id,
                topic: t,
                seq: seq++,
                state: 'q',
                leased: false,
                lease: 0,
                visibleAt: now,
                attempts: 0,
              });
              break;
            }
            case 'receive': {
              const t = TOPICS[o.topic]!;
              const want: ModelMsg[] = [];
              let dead = 0;
              const visible = [...model.values()]
                .filter((m) => m.topic === t && m.state === 'q' && m.visibleAt <= now)
                .sort((x, y) => x.seq - y.seq);
              for (const m of visible) {
                if (want.length === o.max) break;
                if (m.attempts >= MAX_RECEIVES) {
                  m.state = 'dead';
                  m.leased = false;
                  dead++;
                  continue;
                }
                m.lease++;
                m.attempts++;
                m.leased = true;
                m.visibleAt = now + o.vis;
                want.push(m);
              }
              const got = await store.receive(t, o.max, o.vis);
              assert.deepEqual(
                got.messages.map((m) => [m.id, m.attempts]),
                want.map((m) => [m.id, m.attempts]),
              );
              assert.equal(got.deadLettered, dead);
              for (const m of got.messages) {
                assert.ok(!acked.has(m.id), 'an acked message is never delivered again');
                receipts.push(m.receipt);
              }
              break;
            }
            case 'ack':
            case 'nack':
            case 'extend': {
              if (receipts.length === 0) break;
              const rs = chosen(o.picks);
              const valid = rs.every((r) => held(r) !== undefined);
              const got =
                o.k === 'ack'
                  ? await store.ack(rs)
                  : o.k === 'nack'
                    ? await store.nack(rs, o.delay)
                    : await store.extend(rs, o.vis);
              assert.equal(got.ok, valid, `${o.k} of ${rs.join(',')}`);
              if (!valid) break;
              for (const r of rs) {
                const m = held(r)!;
                if (o.k === 'ack') {
                  m.state = 'acked';
                  acked.add(m.id);
                } else if (o.k === 'nack') {
                  if (m.attempts >= MAX_RECEIVES) m.state = 'dead';
                  else m.visibleAt = now + o.delay;
                  m.leased = false;
                } else {
                  m.visibleAt = now + o.vis;
                }
              }
              break;
            }
            case 'advance':
              now += o.ms;
              break;
            case 'sweep': {
              let n = 0;
              for (const m of model.values()) {
                if (m.state === 'q' && m.attempts >= MAX_RECEIVES && m.visibleAt <= now) {
                  m.state = 'dead';
                  m.leased = false;
                  n++;
                }
              }
              assert.equal((await store.sweep()).length, n);
              break;
            }
            case 'redrive': {
              const t = TOPICS[o.topic]!;
              let n = 0;
              for (const m of model.values()) {
                if (m.topic === t && m.state === 'dead') {
                  Object.assign(m, { state: 'q', attempts: 0, leased: false, visibleAt: now });
                  n++;
                }
              }
              assert.equal(await store.redrive(t, 1000), n);
              break;
            }
          }
          // After every step the per-topic counts agree with the model.
          for (const t of TOPICS) {
            const ms = [...model.values()].filter((m) => m.topic === t);
            const s = store.stats(t);
            assert.deepEqual(
              { visible: s.visible, in_flight: s.in_flight, delayed: s.delayed, dlq: s.dlq },
              {
                visible: ms.filter((m) => m.state === 'q' && m.visibleAt <= now).length,
                in_flight: ms.filter((m) => m.state === 'q' && m.leased && m.visibleAt > now).length,
                delayed: ms.filter((m) => m.state === 'q' && !m.leased && m.visibleAt > now).length,
                dlq: ms.filter((m) => m.state === 'dead').length,
              },
              `stats of ${t} after ${JSON.stringify(o)}`,
            );
          }
        }
        // At-least-once: everything not acked is still there (queued or dead), nothing acked is.
        for (const m of model.values()) {
          if (m.state === 'acked') continue;
          now += 1_000_000;
          const s = store.stats(m.topic);
          assert.ok(s.visible + s.dlq > 0);
        }
      } finally {
        store.close();
      }
    }),
    { numRuns: 150 },
  );
});

test('an enqueue with an Idempotency-Key inside the window returns the first id; after it, a new one', async () => {
  let now = 0;
  const store = new MailboxStore({ path: ':memory:', maxReceives: 5, dedupWindowMs: 1000, now: () => now });
  try {
    const a = await store.enqueue('t', Buffer.from('x'), 'k');
    now += 999;
    assert.deepEqual(await store.enqueue('t', Buffer.from('y'), 'k'), { id: a.id, duplicate: true });
    now += 2;
    const c = await store.enqueue('t', Buffer.from('z'), 'k');
    assert.equal(c.duplicate, false);
    assert.notEqual(c.id, a.id);
    await store.sweep();
    assert.equal(store.stats('t').visible, 2);
  } finally {
    store.close();
  }
});

test('writes that arrive together share one transaction, and one failing write rolls back alone', async () => {
  const store = new MailboxStore({ path: ':memory:', maxReceives: 5, dedupWindowMs: 1000 });
  try {
    const results = await Promise.allSettled([
      store.enqueue('t', Buffer.from('1')),
      store.commit(() => {
        throw new Error('boom');
      }),
      store.enqueue('t', Buffer.from('2')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(store.stats('t').visible, 2);
  } finally {
    store.close();
  }
  await assert.rejects(store.enqueue('t', Buffer.from('late')), /closed/);
});
