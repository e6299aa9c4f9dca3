#!/usr/bin/env node
// mailbox + index benchmark (issue 13, SPEC §6). Run alone:
//   npm run build && BENCH_ROUNDS=5 BENCH_SECONDS=3 node benchmarks/mailbox.mjs [--json]
// 1. Durable mailbox throughput, enqueue → receive (max=10) → ack batch, 1 KiB messages, 16 producers
//    + 16 consumers: svc-mailbox direct, through the macronode gateway, and the peer NATS JetStream
//    (Debian nats-server -js, file storage in a temp dir, a work-queue stream with explicit acks,
//    the `nats` npm client) in interleaved rounds; medians of acked messages/s.
// 2. Long-poll wake-up: a receiver waits (wait=20s), a message is enqueued; time from the enqueue's
//    answer to the receiver's answer, p50/p99.
// 3. index GET vs micronode KV GET (sqlite), same run (the harness load tool).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { ensureLoadTool, interleave, median, pinned, renderTable, runStandalone, scratchDir, startProgram } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);
const MAILBOX = join(root, 'packages/mailbox/bin/svc-mailbox.js');
const INDEX = join(root, 'packages/index/bin/svc-index.js');
const MICRONODE = join(root, 'packages/micronode/bin/micronode.js');
const MACRONODE = join(root, 'packages/macronode/bin/macronode.js');
const PRODUCERS = 16;
const CONSUMERS = 16;
const MSG_BYTES = 1024;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new Agent({ connections: 64, pipelining: 1 });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

let seq = 0;
function body() {
  const b = Buffer.alloc(MSG_BYTES, 0x61);
  b.write(`${process.pid}-${++seq}-${Date.now()}`);
  return b;
}

async function post(url, payload, headers = {}) {
  const r = await request(url, { method: 'POST', body: payload ?? '', headers, dispatcher: agent });
  return { status: r.statusCode, json: await r.body.json() };
}

/** One timed window of 16 producers + 16 consumers against a mailbox URL; acked messages/s. */
async function mailboxWindow(base, topic, seconds) {
  let stop = false;
  let acked = 0;
  const producer = async () => {
    while (!stop) await post(`${base}/v1/mailbox/${topic}`, body());
  };
  const consumer = async () => {
    while (!stop) {
      const r = await post(`${base}/v1/mailbox/${topic}/receive?max=10&visibility=30s&wait=1s`);
      const receipts = r.json.messages.map((m) => m.receipt);
      if (receipts.length === 0) continue;
      const a = await post(`${base}/v1/mailbox/${topic}/ack`, JSON.stringify({ receipts }), { 'content-type': 'application/json' });
      if (a.status === 200) acked += a.json.acked;
    }
  };
  const work = [...Array.from({ length: PRODUCERS }, producer), ...Array.from({ length: CONSUMERS }, consumer)];
  await sleep(500); // warm-up
  const a0 = acked;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = ((acked - a0) * 1000) / (performance.now() - t0);
  stop = true;
  await Promise.all(work);
  return rate;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** nats-server -js on loopback with file storage in a scratch dir, pinned like our programs. */
async function startNats() {
  if (spawnSync('sh', ['-c', 'command -v nats-server']).status !== 0) {
    process.stderr.write('installing nats-server (apt-get)\n');
    spawnSync('apt-get', ['install', '-y', 'nats-server'], { stdio: 'ignore' });
  }
  const dir = scratchDir('nats');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const [cmd, argv] = pinned(process.env.BENCH_SERVER_CPU ?? '0', 'nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)]);
  const child = spawn(cmd, argv, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const s = createServer();
      s.once('error', () => res(true));
      s.listen(port, '127.0.0.1', () => s.close(() => res(false)));
    });
    if (ok) break;
    await sleep(50);
  }
  return { port, pid: child.pid, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

/** The same window against JetStream: publish awaits the PubAck (stored), pull fetch 10, explicit acks. */
async function natsWindow(nats, port, seconds, round) {
  const nc = await nats.connect({ servers: `127.0.0.1:${port}` });
  const jsm = await nc.jetstreamManager();
  const stream = `bench${round}`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: nats.RetentionPolicy.Workqueue, storage: nats.StorageType.File });
  await jsm.consumers.add(stream, { durable_name: 'workers', ack_policy: nats.AckPolicy.Explicit });
  const js = nc.jetstream();
  const consumer = await js.consumers.get(stream, 'workers');
  let stop = false;
  let acked = 0;
  const producer = async () => {
    while (!stop) await js.publish(`${stream}.jobs`, body());
  };
  const worker = async () => {
    while (!stop) {
      const batch = await consumer.fetch({ max_messages: 10, expires: 1000 });
      for await (const m of batch) {
        m.ack();
        acked++;
      }
    }
  };
  const work = [...Array.from({ length: PRODUCERS }, producer), ...Array.from({ length: CONSUMERS }, worker)];
  await sleep(500);
  const a0 = acked;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = ((acked - a0) * 1000) / (performance.now() - t0);
  stop = true;
  await Promise.allSettled(work);
  await jsm.streams.delete(stream);
  await nc.drain();
  return rate;
}

/** Long-poll wake-up: enqueue answered → waiting receiver answered, n samples. */
async function wakeups(base, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const topic = `wake${i}`;
    let answered = 0;
    const waiting = post(`${base}/v1/mailbox/${topic}/receive?wait=20s`).then(() => (answered = performance.now()));
    await sleep(50);
    await post(`${base}/v1/mailbox/${topic}`, body());
    const enq = performance.now();
    await waiting;
    out.push(Math.max(0, answered - enq));
  }
  return out;
}

export async function run(o = {}) {
  const ROUNDS = o.rounds ?? Number(process.env.BENCH_ROUNDS ?? 5);
  const SECONDS = o.seconds ?? Number(process.env.BENCH_SECONDS ?? 3);
  const tool = o.tool ?? (await ensureLoadTool());
  const log = o.log ?? ((s) => process.stderr.write(`${s}\n`));
  const nats = await import('nats').catch(() => undefined);

  const mb = await startProgram({ bin: MAILBOX, timeoutMs: START_TIMEOUT_MS, args: ['--bind', '127.0.0.1:0', '--storage-path', join(scratchDir('mailbox'), 'mailbox.db')] });
  const macro = await startProgram({
    bin: MACRONODE,
    timeoutMs: START_TIMEOUT_MS,
    args: ['run', '--http-addr', '127.0.0.1:0', '--gateway-addr', '127.0.0.1:0', '--data-dir', scratchDir('macronode')],
    env: { RON_SERVICES: 'mailbox' },
  });
  const gw = String(macro.ready.gateway_url);
  const natsServer = nats === undefined ? undefined : await startNats();
  if (nats === undefined) log('the `nats` npm package is missing (npm install): JetStream peer skipped');

  const rates = { direct: [], gateway: [], nats: [] };
  for (let r = 0; r < ROUNDS; r++) {
    rates.direct.push(await mailboxWindow(mb.url, `bench${r}`, SECONDS));
    rates.gateway.push(await mailboxWindow(gw, `gbench${r}`, SECONDS));
    if (natsServer) rates.nats.push(await natsWindow(nats, natsServer.port, SECONDS, r));
    log(`round ${r + 1}/${ROUNDS}: direct ${rates.direct[r].toFixed(0)}/s, gateway ${rates.gateway[r].toFixed(0)}/s${natsServer ? `, jetstream ${rates.nats[r].toFixed(0)}/s` : ''}`);
  }
  const wake = await wakeups(mb.url, 60);
  await Promise.all([macro.stop(), natsServer?.stop()]);

  // index GET vs micronode KV GET (sqlite), same load tool and rounds.
  const ix = await startProgram({ bin: INDEX, timeoutMs: START_TIMEOUT_MS, args: ['--bind', '127.0.0.1:0', '--storage-path', join(scratchDir('index'), 'index.db')] });
  const kv = await startProgram({
    bin: MICRONODE,
    timeoutMs: START_TIMEOUT_MS,
    args: ['--bind', '127.0.0.1:0'],
    env: { MICRONODE_STORAGE_ENGINE: 'sqlite', MICRONODE_STORAGE_PATH: join(scratchDir('kv'), 'kv.db') },
  });
  await request(`${ix.url}/v1/index/bench/name`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ addr: `b3:${'e'.repeat(64)}` }) }).then((r) => r.body.dump());
  await request(`${kv.url}/v1/kv/bench/k`, { method: 'PUT', body: Buffer.alloc(100, 0x61) }).then((r) => r.body.dump());
  const reads = await interleave(
    [
      { name: 'kv_get', label: 'micronode KV GET (sqlite, 100 B)', url: kv.url, pid: kv.pid, path: '/v1/kv/bench/k' },
      { name: 'index_get', label: 'svc-index GET /v1/index/bench/name', url: ix.url, pid: ix.pid, path: '/v1/index/bench/name' },
    ],
    { rounds: ROUNDS, durationS: SECONDS, connections: 16, tool, log },
  );
  await Promise.all([mb.stop(), ix.stop(), kv.stop()]);
  await agent.close();

  const d = median(rates.direct);
  const g = median(rates.gateway);
  const n = rates.nats.length > 0 ? median(rates.nats) : undefined;
  const by = Object.fromEntries(reads.map((x) => [x.name, x]));
  const rows = [
    '| contender | acked messages/s (median) | rounds | ratio to JetStream |',
    '|---|---|---|---|',
    `| svc-mailbox direct | ${d.toFixed(0)} | ${rates.direct.map((x) => x.toFixed(0)).join(', ')} | ${n ? (d / n).toFixed(2) : 'n/a'} |`,
    `| svc-mailbox through the macronode gateway | ${g.toFixed(0)} | ${rates.gateway.map((x) => x.toFixed(0)).join(', ')} | ${n ? (g / n).toFixed(2) : 'n/a'} |`,
    `| NATS JetStream (nats-server -js, file storage) | ${n ? n.toFixed(0) : 'n/a'} | ${rates.nats.map((x) => x.toFixed(0)).join(', ')} | 1.00 |`,
  ];
  return {
    program: 'mailbox',
    title: 'mailbox and index (issue 13)',
    sections: [
      `### Durable mailbox throughput (${PRODUCERS} producers + ${CONSUMERS} consumers, ${MSG_BYTES} B messages, receive max=10, ack batches; ${ROUNDS} interleaved rounds × ${SECONDS} s)\n\n${rows.join('\n')}\n\n` +
        'Durability is not the same work: svc-mailbox answers an enqueue, a lease and an ack only after its SQLite transaction committed with `synchronous=FULL` (an fsync per group commit; concurrent writes share one). ' +
        'JetStream with file storage acknowledges a publish once the message is written to its store file, and fsyncs on its `sync_interval` (default 2 minutes), so an acked publish can be lost on power failure; its consumer acks are fire-and-forget (`m.ack()`, the usual client call).',
      `### Long-poll wake-up (a receiver waiting with wait=20s; time from the enqueue's answer to the receiver's answer, ${wake.length} samples)\n\np50 **${pct(wake, 50).toFixed(2)} ms**, p99 **${pct(wake, 99).toFixed(2)} ms**, max ${Math.max(...wake).toFixed(2)} ms.`,
      `### index GET vs micronode KV GET (16 connections)\n\n${renderTable(reads, { ratios: ['kv_get'] })}`,
    ],
    budgets: [
      { what: 'mailbox through the gateway vs direct', budget: 'reported', measured: (g / d).toFixed(2), ok: null },
      { what: 'mailbox direct vs NATS JetStream', budget: 'reported', measured: n ? (d / n).toFixed(2) : 'n/a', ok: null },
      { what: 'index GET vs micronode KV GET', budget: 'reported', measured: (by.index_get.rps / by.kv_get.rps).toFixed(2), ok: null },
    ],
    method: ['svc-mailbox, macronode and nats-server pinned to BENCH_SERVER_CPU; the clients run in this process.'],
  };
}

await runStandalone(import.meta.url, 'mailbox', run);
