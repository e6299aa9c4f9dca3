// SseStream against a real HTTP server on 127.0.0.1 and a raw client socket: frames queued in one
// turn leave in one write, a shared Buffer goes out as is and counts as its frames toward the
// bound, `delivered` names only versions handed to the socket, and overflow drops the queue.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { SseStream, sseFrame, type SseOptions } from '../src/index.js';

interface Conn {
  stream: SseStream;
  res: ServerResponse;
  /** Every chunk the stream handed to `res.write` after the response was opened. */
  writes: (string | Buffer)[];
  sock: Socket;
  /** Starts reading; resolves once the text received so far contains `s`. */
  until: (s: string) => Promise<string>;
  overflows: () => number;
  closes: () => number;
}

async function open(opts: SseOptions = {}): Promise<{ conn: Conn; server: Server }> {
  let overflows = 0;
  let closes = 0;
  let resolve: (c: { stream: SseStream; res: ServerResponse; writes: (string | Buffer)[] }) => void = () =>
    undefined;
  const ready = new Promise<Parameters<typeof resolve>[0]>((r) => (resolve = r));
  const server = createServer((_req, res) => {
    const stream: SseStream = new SseStream(res, {
      ...opts,
      onOverflow: () => {
        overflows++;
        stream.end('dropped', '{}');
      },
      onClose: () => closes++,
    });
    const writes: (string | Buffer)[] = [];
    const write = res.write.bind(res) as (chunk: string | Buffer) => boolean;
    res.write = ((chunk: string | Buffer) => {
      writes.push(chunk);
      return write(chunk);
    }) as typeof res.write;
    resolve({ stream, res, writes });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
  // No 'data' listener until `until`: the socket stops reading once its small buffer is full.
  let text = '';
  const waiters: (() => void)[] = [];
  const until = async (s: string): Promise<string> => {
    if (sock.listenerCount('data') === 0)
      sock.on('data', (d: Buffer) => {
        // Only the tail matters (congestion tests send megabytes).
        text = (text + d.toString('latin1')).slice(-65536);
        for (const w of waiters.splice(0)) w();
      });
    while (!text.includes(s)) {
      if (sock.destroyed) throw new Error(`connection closed before ${JSON.stringify(s)}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return text;
  };
  sock.on('close', () => {
    for (const w of waiters.splice(0)) w();
  });
  const { stream, res, writes } = await ready;
  return {
    server,
    conn: { stream, res, writes, sock, until, overflows: () => overflows, closes: () => closes },
  };
}

async function done(server: Server, conn: Conn): Promise<void> {
  conn.sock.destroy();
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

const frame = (v: number): string => sseFrame('commit', `{"v":${v}}`, v);
const batch = (from: number, to: number): Buffer => {
  let s = '';
  for (let v = from; v <= to; v++) s += frame(v);
  return Buffer.from(s);
};

test('frames queued in one turn leave in one write; a shared Buffer is written as is, not copied', async () => {
  const { server, conn } = await open();
  try {
    const { stream, writes } = conn;
    assert.ok(stream.sendRaw(frame(1), 1));
    assert.ok(stream.sendRaw(frame(2), 2));
    assert.equal(writes.length, 0, 'queued, not yet written');
    await turn();
    assert.deepEqual(writes, [frame(1) + frame(2)]);
    const buf = batch(3, 5);
    assert.ok(stream.sendBatch(buf, 3, 5));
    assert.equal(writes.length, 2, 'a batch is written at once');
    assert.equal(writes[1], buf, 'the very Buffer the caller shares');
    // A frame and a Buffer queued in one turn still leave in one write, in order.
    stream.sendRaw(frame(6), 6);
    stream.sendBatch(batch(7, 8), 2, 8);
    assert.equal(writes.length, 3);
    assert.equal(writes[2]!.toString(), frame(6) + batch(7, 8).toString());
    assert.equal(stream.delivered, 8);
    await conn.until('id: 8\n');
  } finally {
    await done(server, conn);
  }
});

test('a shared Buffer counts as its frames toward maxEvents', async () => {
  // 4 queued frames + a batch of 6 = 10: within the bound.
  const a = await open({ maxEvents: 10 });
  try {
    for (let v = 1; v <= 4; v++) assert.ok(a.conn.stream.sendRaw(frame(v), v));
    assert.ok(a.conn.stream.sendBatch(batch(5, 10), 6, 10));
    assert.equal(a.conn.overflows(), 0);
    await a.conn.until('id: 10\n');
  } finally {
    await done(a.server, a.conn);
  }
  // 5 + 6 = 11: the stream overflows, the queue is dropped unwritten and the writer is told at once.
  const b = await open({ maxEvents: 10 });
  try {
    const { stream } = b.conn;
    for (let v = 1; v <= 5; v++) assert.ok(stream.sendRaw(frame(v), v));
    assert.equal(stream.pending, 5);
    assert.equal(stream.sendBatch(batch(6, 11), 6, 11), false);
    assert.equal(b.conn.overflows(), 1);
    assert.ok(stream.overflowed);
    assert.equal(stream.delivered, 0, 'nothing of the dropped queue reached the socket');
    assert.equal(stream.sendRaw(frame(12), 12), false, 'an overflowed stream takes nothing');
    const text = await b.conn.until('event: dropped');
    assert.ok(!text.includes('event: commit'), text);
  } finally {
    await done(b.server, b.conn);
  }
});

test('a shared Buffer over maxBytes overflows the stream; one that fits exactly is written', async () => {
  const a = await open({ maxBytes: 1000 });
  try {
    const fits = Buffer.alloc(1000, 0x3a); // ':' lines are SSE comments
    assert.ok(a.conn.stream.sendBatch(fits, 1, 1));
    assert.equal(a.conn.writes.at(-1), fits);
    assert.equal(a.conn.stream.delivered, 1);
  } finally {
    await done(a.server, a.conn);
  }
  const b = await open({ maxBytes: 1000 });
  try {
    const { stream } = b.conn;
    assert.ok(stream.sendRaw(frame(1), 1));
    assert.equal(stream.sendBatch(Buffer.alloc(1001 - frame(1).length, 0x3a), 1, 2), false);
    assert.equal(b.conn.overflows(), 1);
    assert.equal(stream.delivered, 0);
    const text = await b.conn.until('event: dropped');
    assert.ok(!text.includes('event: commit'), text);
  } finally {
    await done(b.server, b.conn);
  }
});

test('delivered advances only when a chunk is handed to the socket: not while queued or congested', async () => {
  const { server, conn } = await open({ maxEvents: 1_000_000, maxBytes: 1 << 30 });
  try {
    const { stream, res, writes } = conn;
    stream.sendRaw(frame(1), 1);
    stream.sendRaw('event: heartbeat\ndata: {}\n\n');
    assert.equal(stream.delivered, 0, 'queued only');
    await turn();
    assert.equal(stream.delivered, 1);
    // The client does not read: fill its socket until the response is congested.
    const big = Buffer.alloc(1 << 20, 0x3a);
    let v = 1;
    // The kernel's buffers grow for a while, so congested means: still congested 100 ms later.
    for (;;) {
      while (!res.writableNeedDrain) {
        assert.ok(v < 256, 'never congested');
        assert.ok(stream.sendBatch(big, 1, ++v));
      }
      await sleep(100);
      if (res.writableNeedDrain) break;
    }
    const written = writes.length;
    assert.equal(stream.delivered, v, 'the write that congested the socket was still handed to it');
    assert.equal(stream.canTake(1), false, 'a congested stream takes no replay frame');
    let roomy = false;
    void stream.room().then(() => (roomy = true));
    // Queued while congested: neither a frame nor a shared Buffer is written, however many turns pass.
    assert.ok(stream.sendRaw(frame(v + 1), v + 1));
    assert.ok(stream.sendBatch(batch(v + 2, v + 3), 2, v + 3));
    await turn();
    await sleep(20);
    await turn();
    assert.equal(writes.length, written);
    assert.equal(stream.pending, 3);
    assert.equal(stream.delivered, v);
    assert.equal(roomy, false);
    // The client reads: at drain the queue leaves in one write and delivered moves to its highest version.
    await conn.until(`id: ${v + 3}\n`);
    assert.equal(writes.length, written + 1);
    assert.equal(writes.at(-1)!.toString(), frame(v + 1) + batch(v + 2, v + 3).toString());
    assert.equal(stream.delivered, v + 3);
    assert.equal(stream.pending, 0);
    assert.equal(roomy, true);
  } finally {
    await done(server, conn);
  }
});

test('when the client goes away: onClose once, waiters released, nothing more is queued', async () => {
  const { server, conn } = await open();
  try {
    const { stream } = conn;
    // Nothing queued: no flush will release this waiter, only the close.
    const waiting = stream.room();
    conn.sock.destroy();
    const released = await Promise.race([waiting.then(() => true), sleep(5000).then(() => false)]);
    assert.ok(released, 'the waiter was not released by the close');
    assert.ok(stream.closed);
    assert.equal(conn.closes(), 1);
    assert.equal(stream.pending, 0);
    assert.equal(stream.sendRaw(frame(2), 2), false);
    assert.equal(stream.sendBatch(batch(3, 4), 2, 4), false);
    await stream.room();
    assert.equal(conn.overflows(), 0);
  } finally {
    await done(server, conn);
  }
});
