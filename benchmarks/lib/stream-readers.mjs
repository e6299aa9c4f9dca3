// Lightweight stream readers for fan-out benchmarks (issue 14): many long-lived HTTP streams on raw
// sockets, each recording when every event id arrived. Two protocols:
//   - 'sse': GET <path> (svc-registry's /registry/stream); an event's id is its `id: N` line;
//     live once the first `event: heartbeat` frame arrived (the hub sends one when a client goes live).
//   - 'etcd-watch': POST /v3/watch with a create_request (etcd's JSON gateway streams one JSON
//     message per line); an event's id is its kv.mod_revision; live once `"created":true` arrived.
// No HTTP client library on the read path: one net.Socket per stream, the response scanned as bytes
// for the id marker (chunked-encoding size lines carry neither `\nid: ` nor `"mod_revision"`).
// Times are process.hrtime (CLOCK_MONOTONIC, the same clock in every process on the machine), in
// ms, so receipts taken in child processes compare with the commit times of the parent.
//
// In the benchmark process: `const r = await openReaders(targets)`; or spread over child
// processes: `const r = await forkReaders(targets, procs)`. Both give { live(), receipts(), cpuMs(),
// close() }; receipts() resolves to one Map(id → ms) per stream, in target order.
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const PROTOCOLS = {
  // `id: N` lines of SSE frames; the go-live heartbeat makes the stream live.
  sse: { needle: Buffer.from('\nid: '), live: Buffer.from('event: heartbeat') },
  // `"mod_revision":"N"` of every event in etcd's watch responses; `"created":true` first.
  'etcd-watch': { needle: Buffer.from('"mod_revision":"'), live: Buffer.from('"created":true') },
};

/**
 * One stream. `t`: { kind: 'sse' | 'etcd-watch', host, port, path? (sse), key? (etcd, base64) }.
 * The response is scanned as bytes (no decoding, no line splitting): every needle followed by
 * digits records that id at the time its chunk arrived. Returns { live: Promise<void>, got:
 * Map<number, number>, close() }.
 */
function openStream(t, onData = () => undefined) {
  const { needle, live: liveMark } = PROTOCOLS[t.kind];
  const got = new Map();
  const sock = connect({ host: t.host, port: t.port, noDelay: true });
  let carry;
  let first = true;
  let isLive = false;
  let onLive;
  let onFail;
  const live = new Promise((res, rej) => {
    onLive = res;
    onFail = rej;
  });
  live.catch(() => undefined); // a stream failing before anyone awaits live() is reported by live()
  sock.on('connect', () => {
    if (t.kind === 'sse') {
      sock.write(`GET ${t.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nAccept: text/event-stream\r\n\r\n`);
    } else {
      const body = JSON.stringify({ create_request: { key: t.key } });
      sock.write(
        `POST /v3/watch HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
  });
  sock.on('data', (chunk) => {
    const at = nowMs();
    const buf = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
    carry = undefined;
    if (first) {
      first = false;
      if (!buf.toString('latin1', 0, 12).startsWith('HTTP/1.1 200')) {
        onFail(new Error(`${t.kind} ${t.host}:${t.port} answered ${buf.toString('latin1', 0, 40)}`));
        return;
      }
    }
    if (!isLive && buf.includes(liveMark)) {
      isLive = true;
      onLive();
    }
    let i = 0;
    for (;;) {
      const k = buf.indexOf(needle, i);
      if (k < 0) break;
      let j = k + needle.length;
      let v = 0;
      while (j < buf.length && buf[j] >= 0x30 && buf[j] <= 0x39) v = v * 10 + (buf[j++] - 0x30);
      if (j === buf.length) {
        carry = buf.subarray(k); // the id goes on in the next chunk
        break;
      }
      got.set(v, at);
      i = j;
    }
    // A needle cut by the chunk's end: keep the bytes that may start one.
    if (carry === undefined) carry = buf.subarray(Math.max(i, buf.length - needle.length + 1));
    onData();
  });
  sock.on('error', (err) => onFail(err));
  sock.on('close', () => onFail(new Error(`stream ${t.host}:${t.port} closed`)));
  return { live, got, close: () => sock.destroy() };
}

/** Opens every target's stream in this process. */
export async function openReaders(targets) {
  const waiters = new Set();
  const streams = targets.map((t) => openStream(t, () => waiters.forEach((w) => w())));
  const cpu0 = process.cpuUsage();
  return {
    /** Resolves with the last receipt time once every stream has event `id` (in-process readers only). */
    waitFor: (id, timeoutMs = 10_000) =>
      withTimeout(
        new Promise((res) => {
          const check = () => {
            if (!streams.every((s) => s.got.has(id))) return;
            waiters.delete(check);
            res(Math.max(...streams.map((s) => s.got.get(id))));
          };
          waiters.add(check);
          check();
        }),
        timeoutMs,
        `event ${id} not on every stream`,
      ),
    live: (timeoutMs = 30_000) =>
      withTimeout(Promise.all(streams.map((s) => s.live)), timeoutMs, 'streams not live'),
    receipts: async () => streams.map((s) => new Map(s.got)),
    /** CPU this process used since the readers opened (shared with everything else it does). */
    cpuMs: async () => {
      const c = process.cpuUsage(cpu0);
      return (c.user + c.system) / 1000;
    },
    close: async () => streams.forEach((s) => s.close()),
  };
}

/** Opens the targets spread round-robin over `procs` child processes (this file, forked). */
export async function forkReaders(targets, procs) {
  const kids = Array.from({ length: procs }, () =>
    fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const share = kids.map((_, k) => targets.map((t, i) => [i, t]).filter(([i]) => i % procs === k));
  const ask = (kid, msg) =>
    new Promise((res, rej) => {
      const onMsg = (m) => {
        if (m.re !== msg.op) return;
        kid.off('message', onMsg);
        if (m.error) rej(new Error(m.error));
        else res(m);
      };
      kid.on('message', onMsg);
      kid.send(msg);
    });
  await Promise.all(kids.map((kid, k) => ask(kid, { op: 'open', targets: share[k].map(([, t]) => t) })));
  return {
    live: (timeoutMs = 30_000) =>
      withTimeout(
        Promise.all(kids.map((kid) => ask(kid, { op: 'live', timeoutMs }))),
        timeoutMs + 1000,
        'streams not live',
      ),
    receipts: async () => {
      const out = new Array(targets.length);
      const answers = await Promise.all(kids.map((kid) => ask(kid, { op: 'receipts' })));
      answers.forEach((a, k) => a.receipts.forEach((pairs, j) => (out[share[k][j][0]] = new Map(pairs))));
      return out;
    },
    /** CPU the reader processes used since they opened their streams (sum over processes). */
    cpuMs: async () =>
      (await Promise.all(kids.map((kid) => ask(kid, { op: 'cpu' })))).reduce((a, m) => a + m.cpuMs, 0),
    close: async () => {
      await Promise.all(
        kids.map(
          (kid) =>
            new Promise((res) => {
              if (kid.exitCode !== null) return res();
              kid.once('exit', res);
              kid.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]);
}

// Child side: one process holding a share of the streams, driven over IPC.
if (process.argv.includes('--child') && process.send !== undefined) {
  let readers;
  process.on('message', async (m) => {
    try {
      if (m.op === 'open') {
        readers = await openReaders(m.targets);
        process.send({ re: m.op });
      } else if (m.op === 'live') {
        await readers.live(m.timeoutMs);
        process.send({ re: m.op });
      } else if (m.op === 'receipts') {
        process.send({ re: m.op, receipts: (await readers.receipts()).map((g) => [...g]) });
      } else if (m.op === 'cpu') {
        process.send({ re: m.op, cpuMs: await readers.cpuMs() });
      }
    } catch (err) {
      process.send({ re: m.op, error: String(err.message ?? err) });
    }
  });
  process.on('SIGTERM', () => {
    readers?.close();
    process.exit(0);
  });
  // The parent going away ends this process too.
  process.on('disconnect', () => process.exit(0));
}
