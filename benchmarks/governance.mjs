#!/usr/bin/env node
// Registry governance benchmark (issue 4 "Performance"). Part of `npm run bench` (benchmarks/run.mjs);
// standalone it prints its markdown (or JSON with --json):
//   npx tsc -b && BENCH_ROUNDS=5 BENCH_SECONDS=3 node benchmarks/governance.mjs [--json]
// Measures:
//   1. apply latency through HTTP with 3-of-5 signatures: POST /v1/registry/proposals carrying 3
//      signatures (each Ed25519-verified by the registry) then POST /v1/registry/apply/{id} (quorum,
//      append, chain, stream publish); p50/p95/p99 of apply alone and of propose + apply, on the
//      in-memory store and on SQLite (one fsync per append). Budget: p95 ≤ 5 ms.
//   2. GET /v1/registry/descriptors/{id} vs the bare node:http baseline with 50 000 descriptors loaded
//      (interleaved rounds, medians; ratio, no numeric budget in the issue).
//   3. GET /v1/registry/regions/map with 10 000 services: latency at 1 connection (cached text), the
//      first answer after a service changes (map rebuilt), and throughput at 16 connections.
// The 50 000 descriptors (10 000 services over 10 regions + 40 000 nodes) are preloaded inside the
// registry process through its governance API (propose with one signature + apply; signer set of one
// key, threshold 1) by benchmarks/lib/governance-server.mjs, before the process announces itself.
import { Agent, fetch } from 'undici';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { LOAD_CPU, ensureLoadTool, interleave, machine, measure, median, pinned, renderTable, scratchDir, startBare, runStandalone, startProgram, stopAll } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Generous: on a busy shared core a node process can take seconds to start.
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);
const BIN = join(root, 'packages/registry/bin/svc-registry.js');
const SERVER = join(root, 'benchmarks/lib/governance-server.mjs');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

/** A descriptor id scheme shared with lib/governance-server.mjs (first SERVICES ids are services). */
const svcId = (i, regions) => `svc-${i}@region-${i % regions}`;

async function post(url, body, opts = {}) {
  // opts.fresh: a new connection for this POST. After a long wrk phase the pooled keep-alive socket
  // may already be closed by the server, and fetch never retries a POST (seen as UND_ERR_SOCKET).
  const dispatcher = opts.fresh ? new Agent() : undefined;
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(dispatcher ? { dispatcher } : {}) }).catch((e) => {
    throw new Error(`POST ${url}: ${e.message} (${e.cause?.code ?? e.cause?.message ?? 'no cause'})`);
  });
  const text = await res.text();
  await dispatcher?.close();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/**
 * Sequential publishes through HTTP, 3 of 5 signatures each, from `lib/apply-client.mjs` pinned to the
 * load core (one keep-alive node:http connection; signatures made up front, outside the timing).
 * Returns p50/p95/p99 in ms for the proposal, the apply, and both.
 */
async function applyLatency(url, keys, { samples, warmup, prefix }) {
  const [cmd, argv] = pinned(LOAD_CPU, process.execPath, [join(root, 'benchmarks/lib/apply-client.mjs'), url, String(samples), String(warmup), prefix]);
  const r = spawnSync(cmd, argv, { env: { ...process.env, APPLY_KEYS: JSON.stringify(keys) }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`apply client failed (${r.status}): ${r.stderr.slice(0, 1000)}`);
  const t = JSON.parse(r.stdout.trim().split('\n').pop());
  const stats = (xs) => ({ p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99), max: Math.max(...xs) });
  return { propose: stats(t.propose), apply: stats(t.apply), both: stats(t.both), n: samples };
}

/**
 * Runs the governance benchmark. Options default to BENCH_ROUNDS / BENCH_SECONDS / BENCH_CONNECTIONS.
 * Returns { program, title, sections: markdown[], budgets: [{what, budget, measured, ok}], method: string[] }.
 */
export async function run(o = {}) {
  const ROUNDS = o.rounds ?? Number(process.env.BENCH_ROUNDS ?? 5);
  const SECONDS = o.seconds ?? Number(process.env.BENCH_SECONDS ?? 3);
  const CONNS = o.connections ?? Number(process.env.BENCH_CONNECTIONS ?? 16);
  const DESCRIPTORS = Number(process.env.BENCH_GOV_DESCRIPTORS ?? 50_000);
  const SERVICES = Number(process.env.BENCH_GOV_SERVICES ?? 10_000);
  const REGIONS = 10;
  const SAMPLES = Number(process.env.BENCH_GOV_APPLIES ?? 500);
  const log = o.log ?? ((s) => process.stderr.write(`${s}\n`));
  const tool = o.tool ?? (await ensureLoadTool());
  await reg.initChain();
  const budgets = [];
  const sections = [];

  // 1. Apply latency, 3-of-5, the real svc-registry binary (memory store, then SQLite).
  const keys = Array.from({ length: 5 }, () => reg.generateKeyFile());
  const allow = keys.map((k) => k.signer_id).join(',');
  const applyRows = [];
  for (const [label, args] of [
    ['memory (--amnesia)', ['--amnesia']],
    ['SQLite (WAL, synchronous=FULL)', ['--db', join(scratchDir('gov-sqlite'), 'r.db')]],
  ]) {
    const p = await startProgram({ bin: BIN, timeoutMs: START_TIMEOUT_MS, args: [...args, '--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0', '--allow-signer', allow, '--sig-threshold', '3'] });
    const r = await applyLatency(p.url, keys, { samples: SAMPLES, warmup: 50, prefix: `svc-apply-${applyRows.length}` });
    await p.stop();
    log(`apply 3-of-5 ${label}: apply p95 ${f2(r.apply.p95)} ms, propose+apply p95 ${f2(r.both.p95)} ms`);
    applyRows.push([label, r]);
  }
  sections.push(
    [
      `### Apply latency through HTTP, 3-of-5 signatures (${SAMPLES} sequential publishes after 50 warm-up, one keep-alive node:http client pinned to the load core)`,
      '',
      'Each publish is `POST /v1/registry/proposals` with 3 signatures (the registry verifies each with Ed25519: the',
      '"verify" part) answered 202 `ready`, then `POST /v1/registry/apply/{id}` (quorum check, append to the log and',
      'hash chain, fold into the read model, stream publish). Times are client-side wall times, ms.',
      '',
      '| store | apply p50 | apply p95 | apply p99 | propose (3 verifies) p95 | propose + apply p50 | propose + apply p95 | propose + apply p99 |',
      '|---|---|---|---|---|---|---|---|',
      ...applyRows.map(([l, r]) => `| ${l} | ${f2(r.apply.p50)} | ${f2(r.apply.p95)} | ${f2(r.apply.p99)} | ${f2(r.propose.p95)} | ${f2(r.both.p50)} | ${f2(r.both.p95)} | ${f2(r.both.p99)} |`),
    ].join('\n'),
  );
  for (const [l, r] of applyRows) {
    budgets.push({ what: `governance apply p95 through HTTP, 3-of-5 (verify + append + publish = propose + apply), ${l}`, budget: '≤ 5 ms', measured: `${f2(r.both.p95)} ms (apply alone ${f2(r.apply.p95)} ms)`, ok: r.both.p95 <= 5 });
  }

  // 2 + 3. Reads with 50 000 descriptors loaded.
  const key = reg.generateKeyFile();
  const bare = await startBare({ timeoutMs: START_TIMEOUT_MS });
  const gov = await startProgram({
    bin: SERVER,
    readyEvent: 'preloaded',
    timeoutMs: 300_000,
    env: { GOV_KEY: JSON.stringify(key), GOV_DESCRIPTORS: String(DESCRIPTORS), GOV_SERVICES: String(SERVICES), GOV_REGIONS: String(REGIONS), LOG_LEVEL: 'info' },
  });
  log(`preloaded ${gov.ready.descriptors} descriptors in ${gov.ready.preload_ms} ms (head ${gov.ready.head})`);
  const someSvc = svcId(Math.floor(SERVICES / 2) + 3, REGIONS);
  const someNode = `node-${Math.floor((SERVICES + DESCRIPTORS) / 2)}`;
  for (const path of [`/v1/registry/descriptors/${someSvc}`, `/v1/registry/descriptors/${someNode}`]) {
    const res = await fetch(`${gov.url}${path}`);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  }
  const map = await (await fetch(`${gov.url}/v1/registry/regions/map`)).text();
  const mapServices = Object.values(JSON.parse(map).regions).reduce((a, r) => a + r.services.length, 0);
  if (mapServices !== SERVICES) throw new Error(`regions/map lists ${mapServices} services, expected ${SERVICES}`);

  const results = await interleave(
    [
      { name: 'bare', label: 'bare node:http JSON', url: bare.url, pid: bare.pid, path: '/' },
      { name: 'descriptor', label: `GET /v1/registry/descriptors/{service id} (${DESCRIPTORS} loaded)`, url: gov.url, pid: gov.pid, path: `/v1/registry/descriptors/${someSvc}` },
      { name: 'descriptor_node', label: 'GET /v1/registry/descriptors/{node id}', url: gov.url, pid: gov.pid, path: `/v1/registry/descriptors/${someNode}` },
      { name: 'head', label: 'GET /registry/head (same process)', url: gov.url, pid: gov.pid, path: '/registry/head' },
    ],
    { rounds: ROUNDS, durationS: SECONDS, connections: CONNS, tool, log },
  );
  await bare.stop();
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  sections.push(
    [
      `### Descriptor reads with ${DESCRIPTORS.toLocaleString('en')} descriptors loaded (${CONNS} connections, ${ROUNDS} interleaved rounds × ${SECONDS} s, medians)`,
      '',
      `Preload: ${DESCRIPTORS} descriptors (${SERVICES} services over ${REGIONS} regions, ${DESCRIPTORS - SERVICES} nodes) proposed with one signature`,
      `and applied through the governance API inside the registry process (signer set of one key, threshold 1) in ${(gov.ready.preload_ms / 1000).toFixed(1)} s.`,
      'Every request reads the same id (the read model is a map: the id does not change the cost).',
      '',
      renderTable(results, { ratios: ['bare'] }),
    ].join('\n'),
  );
  const ratio = by.descriptor.rps / by.bare.rps;
  budgets.push({ what: `GET /v1/registry/descriptors/{id} with ${DESCRIPTORS} descriptors, throughput vs bare node:http`, budget: 'ratio reported (issue 4 sets no number; registry head: ≥ 0.70)', measured: `${f2(ratio)} (p99 ${f2(by.descriptor.p99)} ms)`, ok: null });

  // 3. regions/map: latency at 1 connection (cached text), throughput at CONNS, rebuilt after a change.
  const mapC = { name: 'map', url: gov.url, pid: gov.pid, path: '/v1/registry/regions/map' };
  measure(mapC, { tool, durationS: 1, connections: 1 });
  const lat = [];
  const thr = [];
  for (let r = 1; r <= ROUNDS; r++) {
    lat.push(measure(mapC, { tool, durationS: SECONDS, connections: 1 }));
    thr.push(measure(mapC, { tool, durationS: SECONDS, connections: CONNS }));
    log(`round ${r}/${ROUNDS} regions/map  c=1 p50 ${f2(lat.at(-1).p50)} ms p99 ${f2(lat.at(-1).p99)} ms  c=${CONNS} ${thr.at(-1).rps.toFixed(0)} req/s`);
  }
  // After each change (a new service published over HTTP, threshold 1), the first GET rebuilds the map.
  const rebuilt = [];
  for (let i = 0; i < 30; i++) {
    const descriptor = { id: `svc-new-${i}@region-${i % REGIONS}`, kind: 'service', version: 1, body: { region: `region-${i % REGIONS}`, addr: `10.8.0.${i}:9000` } };
    const sig = reg.signBytes(key, reg.governanceSignedBytes('default', { op: 'publish', descriptor }));
    const p = await post(`${gov.url}/v1/registry/proposals`, { op: 'publish', descriptor, signatures: [sig] }, { fresh: i === 0 });
    const a = await post(`${gov.url}/v1/registry/apply/${p.body.proposal_id}`, {});
    if (a.status !== 200) throw new Error(`publish for the map rebuild: ${a.status}`);
    const t0 = performance.now();
    const res = await fetch(`${gov.url}/v1/registry/regions/map`);
    await res.arrayBuffer();
    rebuilt.push(performance.now() - t0);
  }
  await gov.stop();
  const m = {
    p50: median(lat.map((x) => x.p50)),
    p99: median(lat.map((x) => x.p99)),
    rps1: median(lat.map((x) => x.rps)),
    rps: median(thr.map((x) => x.rps)),
    p99c: median(thr.map((x) => x.p99)),
    cpuUs: median(thr.map((x) => x.cpuUs)),
  };
  sections.push(
    [
      `### regions/map with ${SERVICES.toLocaleString('en')} services (${(map.length / 1024).toFixed(0)} KiB of JSON; medians of ${ROUNDS} rounds × ${SECONDS} s)`,
      '',
      '| measurement | result |',
      '|---|---|',
      `| GET /v1/registry/regions/map, 1 connection (cached text): p50 / p99 | ${f2(m.p50)} / ${f2(m.p99)} ms (${m.rps1.toFixed(0)} req/s) |`,
      `| GET /v1/registry/regions/map, ${CONNS} connections: throughput, p99, server CPU | ${m.rps.toFixed(0)} req/s, p99 ${f2(m.p99c)} ms, ${m.cpuUs.toFixed(0)} µs/req |`,
      `| first GET after a service changes (map rebuilt + serialised), client wall time, 30 changes: p50 / p95 / max | ${f2(pct(rebuilt, 50))} / ${f2(pct(rebuilt, 95))} / ${f2(Math.max(...rebuilt))} ms |`,
    ].join('\n'),
  );
  budgets.push({ what: `regions/map latency with ${SERVICES} services (1 connection; first answer after a change)`, budget: 'latency reported (issue 4 sets no number)', measured: `p50 ${f2(m.p50)} ms, p99 ${f2(m.p99)} ms; rebuilt p95 ${f2(pct(rebuilt, 95))} ms`, ok: null });

  return {
    program: 'governance',
    title: 'svc-registry governance (issue 4)',
    sections,
    budgets,
    method: [
      `governance: apply latency from ${SAMPLES} sequential HTTP publishes per store (3 of 5 signers, threshold 3, the svc-registry binary; client in the benchmark process, unpinned); reads against a registry preloaded in-process through its governance API with ${DESCRIPTORS} descriptors (threshold 1; benchmarks/lib/governance-server.mjs), pinned like every contender.`,
    ],
  };
}

/** Markdown of one program's result, for standalone runs. */
await runStandalone(import.meta.url, 'governance', run);
