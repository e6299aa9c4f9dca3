#!/usr/bin/env node
// svc-registry on PostgreSQL (issue 14): signed commits/s through one replica and spread over three
// at 16 concurrent clients, next to one SQLite node in the same run; replication lag (commit
// answered on replica A → its event on replica B's stream) p50/p99. Standalone, prints markdown:
//   npx tsc -b && BENCH_SECONDS=5 node benchmarks/registry-pg.mjs
// The cluster is a throwaway one from testkit with fsync on (the durability users run with).
// Every client loops: read the head of its replica, sign head + 1, POST; a lost race answers 422 and
// the client retries, so "attempts/s" shows the contention cost next to acknowledged commits/s.
import { dirname, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages/registry/bin/svc-registry.js');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
const kit = await import(join(root, 'packages/testkit/dist/src/index.js'));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = 16;
const LAG_SAMPLES = Number(process.env.BENCH_LAG_SAMPLES ?? 300);

await reg.initChain();
const key = reg.generateKeyFile();
const started = [];

async function replica(db) {
  const p = await kit.spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0', '--db', db],
    env: { SIGNER_ALLOWLIST: key.signer_id, SIG_THRESHOLD: '1', LOG_LEVEL: 'info' },
    readyEvent: 'ready',
    timeoutMs: 60_000,
  });
  started.push(p);
  return p;
}

async function commitAtHead(url, payload) {
  const head = await (await fetch(`${url}/registry/head`)).json();
  const sig = reg.signBytes(
    key,
    reg.signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version: head.version + 1 }),
  );
  const res = await fetch(`${url}/registry/commit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload_b3: payload, signatures: [sig] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** CLIENTS clients spread round-robin over urls for SECONDS: acknowledged commits/s and attempts/s. */
async function storm(urls) {
  let ok = 0;
  let attempts = 0;
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const url = urls[i % urls.length];
      while (performance.now() < end) {
        const s = await commitAtHead(url, `b3:c${i}-${n++}`);
        attempts++;
        if (s === 200) ok++;
        else if (s !== 422) throw new Error(`commit answered ${s}`);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { commits: ok / secs, attempts: attempts / secs };
}

/** One client, no contention: sequential signed commits/s (the latency-bound rate of one writer). */
async function sequential(url, n = 200) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = await commitAtHead(url, `b3:seq${i}`);
    if (s !== 200) throw new Error(`sequential commit answered ${s}`);
  }
  return n / ((performance.now() - t0) / 1000);
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Sequential commits on A; time from A's 200 to the event on B's stream. */
async function lag(a, b) {
  const stream = await kit.sseConnect(`${b.url}/registry/stream`);
  const out = [];
  for (let i = 0; i < LAG_SAMPLES; i++) {
    const head = await (await fetch(`${a.url}/registry/head`)).json();
    const v = head.version + 1;
    const sig = reg.signBytes(
      key,
      reg.signedBytes({ registry: 'default', op: 'commit', payload_b3: `b3:lag${i}`, version: v }),
    );
    const res = await fetch(`${a.url}/registry/commit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload_b3: `b3:lag${i}`, signatures: [sig] }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`lag commit answered ${res.status}`);
    const t = performance.now();
    await stream.next((e) => e.event === 'commit' && e.id === String(v), 10_000);
    out.push(performance.now() - t);
  }
  stream.close();
  return { p50: pct(out, 50), p99: pct(out, 99) };
}

const dir = mkdtempSync(join(tmpdir(), 'ron-bench-regpg-'));
let cluster;
try {
  // SQLite, one node (the same-run reference).
  const sqlite = await replica(join(dir, 'registry.db'));
  const s1 = await storm([sqlite.url]);
  const sq1 = await sequential(sqlite.url);
  await sqlite.stop('SIGTERM');

  cluster = await kit.startPostgres({ fsync: true });
  const one = await replica(await cluster.database('one'));
  const p1 = await storm([one.url]);
  const pq1 = await sequential(one.url);
  await one.stop('SIGTERM');

  const db3 = await cluster.database('three');
  const three = [await replica(db3), await replica(db3), await replica(db3)];
  const p3 = await storm(three.map((r) => r.url));
  const l = await lag(three[0], three[1]);

  const f = (x) => x.toFixed(0);
  const ms = (x) => `${x.toFixed(2)} ms`;
  console.log(
    `registry on PostgreSQL (benchmarks/registry-pg.mjs): ${CLIENTS} clients, ${SECONDS} s each, ${cpus().length} cores, ${new Date().toISOString()}\n`,
  );
  console.log(
    '| setup | 16 clients racing: acknowledged signed commits/s | attempts/s (422 = lost race, retried) | 1 client, sequential: commits/s |',
  );
  console.log('|---|---|---|---|');
  console.log(`| one node, SQLite (synchronous=FULL) | ${f(s1.commits)} | ${f(s1.attempts)} | ${f(sq1)} |`);
  console.log(`| one replica, PostgreSQL (fsync on) | ${f(p1.commits)} | ${f(p1.attempts)} | ${f(pq1)} |`);
  console.log(
    `| three replicas, one PostgreSQL, clients spread | ${f(p3.commits)} | ${f(p3.attempts)} | — |`,
  );
  console.log('');
  console.log(
    `replication lag (commit answered on A → event on B's stream), ${LAG_SAMPLES} sequential commits: p50 ${ms(l.p50)}, p99 ${ms(l.p99)}`,
  );
} finally {
  for (const p of started) await p.stop('SIGKILL').catch(() => undefined);
  cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
}
