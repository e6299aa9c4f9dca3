// svc-mailbox through its real process: the contract of SPEC §4.5.3 route by route.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runProgram, tempDir, waitFor, type Program } from '@ron/testkit';
import { BIN, enqueue, receive, settle, sleep, startMailbox, text, type Msg } from './helpers.js';

describe('svc-mailbox API', () => {
  let p: Program;
  let url: string;
  const dir = tempDir();
  before(async () => {
    p = await startMailbox(`${dir.path}/mailbox.db`, { MAILBOX_SWEEP_INTERVAL: '50ms' });
    url = p.url;
  });
  after(async () => {
    await p.stop();
    dir.remove();
  });

  test('enqueue answers 201 {id}; first deliveries follow enqueue order; ack removes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await enqueue(url, 'order', `m${i}`);
      assert.equal(r.status, 201);
      ids.push(r.id);
    }
    const got = await receive(url, 'order', 'max=3');
    assert.deepEqual(
      got.map((m) => m.id),
      ids.slice(0, 3),
    );
    assert.deepEqual(got.map(text), ['m0', 'm1', 'm2']);
    assert.ok(got.every((m) => m.attempts === 1 && !Number.isNaN(Date.parse(m.enqueued_at))));
    const rest = await receive(url, 'order', 'max=10');
    assert.deepEqual(
      rest.map((m) => m.id),
      ids.slice(3),
    );
    const ack = await settle(url, 'order', 'ack', { receipts: [...got, ...rest].map((m) => m.receipt) });
    assert.equal(ack.status, 200);
    assert.equal(ack.json.acked, 5);
    assert.deepEqual(await receive(url, 'order'), []);
    const stats = (await (await fetch(`${url}/v1/mailbox/order`)).json()) as Record<string, number>;
    assert.deepEqual(
      { ...stats, oldest_age_s: 0 },
      { topic: 'order', visible: 0, in_flight: 0, delayed: 0, dlq: 0, oldest_age_s: 0 },
    );
  });

  test('Idempotency-Key within the window: 200 with the first id, nothing enqueued', async () => {
    const a = await enqueue(url, 'idem', 'x', 'key-1');
    const b = await enqueue(url, 'idem', 'y', 'key-1');
    assert.equal(a.status, 201);
    assert.equal(b.status, 200);
    assert.equal(b.id, a.id);
    const other = await enqueue(url, 'idem-2', 'x', 'key-1');
    assert.equal(other.status, 201, 'keys are per topic');
    const got = await receive(url, 'idem', 'max=10');
    assert.deepEqual(got.map(text), ['x']);
  });

  test('a stale consumer: its late ack is refused and changes nothing; the new holder acks', async () => {
    await enqueue(url, 'stale', 'job');
    const [first] = await receive(url, 'stale', 'visibility=200ms');
    assert.ok(first);
    await sleep(300);
    const [second] = await receive(url, 'stale', 'visibility=30s');
    assert.equal(second?.id, first.id);
    assert.equal(second?.attempts, 2);
    for (const verb of ['ack', 'nack', 'extend'] as const) {
      const late = await settle(url, 'stale', verb, {
        receipts: [first.receipt],
        ...(verb === 'extend' ? { visibility: '1m' } : {}),
      });
      assert.equal(late.status, 409, verb);
      assert.equal((late.json.error as { code: string }).code, 'StaleReceipt');
    }
    // A batch with one stale receipt changes nothing either.
    const mixed = await settle(url, 'stale', 'ack', { receipts: [second.receipt, first.receipt] });
    assert.equal(mixed.status, 409);
    const stats = (await (await fetch(`${url}/v1/mailbox/stale`)).json()) as Record<string, number>;
    assert.equal(stats.in_flight, 1, 'still held by the new consumer');
    assert.equal((await settle(url, 'stale', 'ack', { receipts: [second.receipt] })).status, 200);
    assert.equal(
      (await settle(url, 'stale', 'ack', { receipts: [second.receipt] })).status,
      409,
      'acked: the receipt is spent',
    );
  });

  test('nack with delay, extend keeps the lease, unacked messages come back after visibility', async () => {
    await enqueue(url, 'nack', 'n');
    const [m] = await receive(url, 'nack', 'visibility=30s');
    assert.equal((await settle(url, 'nack', 'nack', { receipts: [m!.receipt], delay: '300ms' })).status, 200);
    let stats = (await (await fetch(`${url}/v1/mailbox/nack`)).json()) as Record<string, number>;
    assert.equal(stats.delayed, 1);
    assert.deepEqual(await receive(url, 'nack'), [], 'delayed: not visible yet');
    const again = await receive(url, 'nack', 'wait=5s&visibility=300ms');
    assert.equal(again[0]?.id, m!.id);
    assert.equal(again[0]?.attempts, 2);
    const ext = await settle(url, 'nack', 'extend', { receipts: [again[0].receipt], visibility: '30s' });
    assert.equal(ext.status, 200);
    await sleep(400);
    assert.deepEqual(await receive(url, 'nack'), [], 'the extended lease still holds');
    stats = (await (await fetch(`${url}/v1/mailbox/nack`)).json()) as Record<string, number>;
    assert.equal(stats.in_flight, 1);
    assert.equal((await settle(url, 'nack', 'ack', { receipts: [again[0].receipt] })).status, 200);
  });

  test('after max_receives leases a message is dead-lettered with its attempt history; redrive brings it back', async () => {
    const { id } = await enqueue(url, 'dlq', 'poison');
    for (let i = 1; i <= 5; i++) {
      const got = await receive(url, 'dlq', 'visibility=50ms&wait=5s');
      assert.equal(got[0]?.attempts, i);
      if (i === 3) await settle(url, 'dlq', 'nack', { receipts: [got[0].receipt] });
    }
    await sleep(100);
    assert.deepEqual(await receive(url, 'dlq'), []);
    const dlq = (await (await fetch(`${url}/v1/mailbox/dlq/dlq`)).json()) as {
      messages: { id: string; attempts: number; history: { attempt: number; outcome: string }[] }[];
      next_cursor: string | null;
    };
    assert.equal(dlq.messages.length, 1);
    assert.equal(dlq.messages[0]!.id, id);
    assert.deepEqual(
      dlq.messages[0]!.history.map((h) => [h.attempt, h.outcome]),
      [
        [1, 'expired'],
        [2, 'expired'],
        [3, 'nacked'],
        [4, 'expired'],
        [5, 'expired'],
      ],
    );
    const stats = (await (await fetch(`${url}/v1/mailbox/dlq`)).json()) as Record<string, number>;
    assert.equal(stats.dlq, 1);
    const rd = await fetch(`${url}/v1/mailbox/dlq/redrive`, { method: 'POST' });
    assert.deepEqual(await rd.json(), { redriven: 1 });
    const back = await receive(url, 'dlq');
    assert.equal(back[0]?.id, id);
    assert.equal(back[0]?.attempts, 1, 'a fresh attempt budget');
  });

  test('a waiting receiver gets a message enqueued 100 ms later before its wait runs out', async () => {
    const t0 = Date.now();
    const waiting = receive(url, 'wake', 'wait=20s');
    await sleep(100);
    await enqueue(url, 'wake', 'hi');
    const got = await waiting;
    assert.deepEqual(got.map(text), ['hi']);
    assert.ok(Date.now() - t0 < 20_000, 'answered by the enqueue, not the wait timeout');
  });

  test('GET /v1/mailbox lists topics with their stats', async () => {
    const j = (await (await fetch(`${url}/v1/mailbox`)).json()) as {
      topics: { topic: string; visible: number }[];
    };
    const names = j.topics.map((t) => t.topic);
    for (const t of ['order', 'idem', 'stale', 'dlq', 'wake']) assert.ok(names.includes(t), t);
    assert.deepEqual(names, [...names].sort());
    assert.equal((await fetch(`${url}/v1/mailbox/never-used`)).status, 404);
  });

  test('metrics: per-topic counters and gauges', async () => {
    const m = await (await fetch(`${url}/metrics`)).text();
    assert.match(m, /mailbox_enqueued_total\{topic="order"\} 5/);
    assert.match(m, /mailbox_acked_total\{topic="order"\} 5/);
    assert.match(m, /mailbox_dead_lettered_total\{topic="dlq"\} 1/);
    assert.match(m, /mailbox_redelivered_total\{topic="stale"\} 1/);
    assert.match(m, /mailbox_in_flight_messages\{topic="dlq"\} 1/);
    assert.match(m, /mailbox_visible_messages\{topic="_other"\} 0/);
  });

  test('bad input gets the right 4xx, never a 500', async () => {
    const cases: [string, RequestInit, number, string][] = [
      ['/v1/mailbox/BAD', { method: 'POST', body: 'x' }, 400, 'BadRequest'],
      ['/v1/mailbox/-x', { method: 'POST', body: 'x' }, 400, 'BadRequest'],
      [`/v1/mailbox/${'a'.repeat(64)}`, { method: 'POST', body: 'x' }, 400, 'BadRequest'],
      ['/v1/mailbox/t', { method: 'POST', body: Buffer.alloc(256 * 1024 + 1) }, 413, 'PayloadTooLarge'],
      [
        '/v1/mailbox/t',
        { method: 'POST', body: 'x', headers: { 'idempotency-key': 'a b' } },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t',
        { method: 'POST', body: 'x', headers: { 'content-encoding': 'gzip' } },
        415,
        'UnsupportedEncoding',
      ],
      ['/v1/mailbox/t/receive?max=0', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?max=101', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?max=1e9', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?visibility=13h', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?visibility=0', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?visibility=-1s', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?wait=21s', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?wait=forever', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?max=1&max=2', { method: 'POST' }, 400, 'BadRequest'],
      ['/v1/mailbox/t/receive?bogus=1', { method: 'POST' }, 400, 'BadRequest'],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"receipts":["nope"]}' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"receipts":[]}' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"receipts":[1]}' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"receipts":"x"}' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"receipts":' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"receipts":["01ARZ3NDEKTSV4RRFFQ69G5FAV.1.abcdefgh"],"x":1}',
        },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' },
        415,
        'UnsupportedMediaType',
      ],
      [
        '/v1/mailbox/t/ack',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ receipts: Array(101).fill('01ARZ3NDEKTSV4RRFFQ69G5FAV.1.abcdefgh') }),
        },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/ack',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"receipts":["01ARZ3NDEKTSV4RRFFQ69G5FAV.1.abcdefgh"]}',
        },
        409,
        'StaleReceipt',
      ],
      [
        '/v1/mailbox/t/nack',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"receipts":["01ARZ3NDEKTSV4RRFFQ69G5FAV.1.abcdefgh"],"delay":"13h"}',
        },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/extend',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"receipts":["01ARZ3NDEKTSV4RRFFQ69G5FAV.1.abcdefgh"]}',
        },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/extend',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"receipts":["01ARZ3NDEKTSV4RRFFQ69G5FAV.1.abcdefgh"],"visibility":{}}',
        },
        400,
        'BadRequest',
      ],
      [
        '/v1/mailbox/t/redrive',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"max":0}' },
        400,
        'BadRequest',
      ],
      ['/v1/mailbox/t/dlq?limit=1000', {}, 400, 'BadRequest'],
      ['/v1/mailbox/t/dlq?cursor=abc', {}, 400, 'BadRequest'],
      ['/v1/mailbox?x=1', {}, 400, 'BadRequest'],
    ];
    for (const [path, init, status, code] of cases) {
      const r = await fetch(`${url}${path}`, init);
      const body = await r.text();
      assert.equal(r.status, status, `${path}: ${body}`);
      assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, code, path);
    }
    // An empty form body (`curl -d ''`) is no body.
    const empty = await fetch(`${url}/v1/mailbox/t/receive`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(empty.status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
  });
});

describe('svc-mailbox lifecycle', () => {
  test('shutdown answers waiting receivers at once with an empty list, then exits 0', async () => {
    const p = await startMailbox();
    const waits = Array.from({ length: 4 }, () =>
      fetch(`${p.url}/v1/mailbox/idle/receive?wait=20s`, { method: 'POST' }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { messages: Msg[] },
      })),
    );
    // Wait until all four are parked in the long-poll.
    await waitFor(
      async () =>
        /mailbox_waiting_receivers 4/.test(await (await fetch(`${p.url}/metrics`)).text()) || undefined,
      15_000,
      50,
    );
    const t0 = Date.now();
    const exit = p.stop('SIGTERM');
    const answers = await Promise.all(waits);
    for (const a of answers) assert.deepEqual(a, { status: 200, body: { messages: [] } });
    assert.ok(Date.now() - t0 < 20_000, 'answered by the shutdown, not by the wait timeout');
    assert.equal((await exit).code, 0);
  });

  test('leases and messages survive a restart; a lease granted before it expires on time after it', async () => {
    const dir = tempDir();
    try {
      const path = `${dir.path}/mb.db`;
      let p = await startMailbox(path);
      await enqueue(p.url, 'keep', 'a');
      await enqueue(p.url, 'keep', 'b');
      const [held] = await receive(p.url, 'keep', 'visibility=20s');
      assert.equal(text(held!), 'a');
      await p.stop('SIGKILL');
      p = await startMailbox(path);
      try {
        const stats = (await (await fetch(`${p.url}/v1/mailbox/keep`)).json()) as Record<string, number>;
        assert.equal(stats.in_flight, 1, 'the lease is still held after the restart');
        const now = await receive(p.url, 'keep', 'max=10');
        assert.deepEqual(now.map(text), ['b']);
        let later: Msg[] = [];
        for (let i = 0; i < 5 && later.length === 0; i++) later = await receive(p.url, 'keep', 'wait=20s');
        assert.deepEqual(later.map(text), ['a'], 'and the message comes back when its lease runs out');
        assert.equal(later[0]!.attempts, 2);
        assert.equal((await settle(p.url, 'keep', 'ack', { receipts: [held!.receipt] })).status, 409);
      } finally {
        await p.stop();
      }
    } finally {
      dir.remove();
    }
  });

  test('a store owned by another process refuses to start (exit 69)', async () => {
    const dir = tempDir();
    const p = await startMailbox(`${dir.path}/x.db`);
    try {
      const second = await runProgram(BIN, ['--bind', '127.0.0.1:0', '--storage-path', `${dir.path}/x.db`], {
        timeoutMs: 120_000,
      });
      assert.equal(second.code, 69);
      assert.match(second.stderr, /in use by another process/);
    } finally {
      await p.stop();
      dir.remove();
    }
  });
});
