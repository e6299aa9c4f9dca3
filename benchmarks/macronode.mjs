#!/usr/bin/env node
// macronode benchmark (issue 5 "Performance"). Part of `npm run bench` (benchmarks/run.mjs); standalone
// it prints markdown (or JSON with --json): `BENCH_ROUNDS=5 BENCH_SECONDS=3 node benchmarks/macronode.mjs`.
//   1. start → ready with every plane (median of fresh starts; budget < 1.5 s)
//   2. crash → ready again for one plane (kill -9 kv, first restart; budget < 1 s)
//   3. gateway overhead: KV GET through the gateway vs directly to the kv plane (ratio; budget ≥ 0.60)
//   4. RSS per process at idle
// Returns/prints markdown tables and budget checks. Uses benchmarks/lib/harness.mjs (taskset pinning, wrk, interleaved rounds).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coldStart, cpuSeconds, ensureLoadTool, machine, measure, median, scratchDir, runStandalone, startProgram, stopAll } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages/macronode/bin/macronode.js');
let ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
let DURATION = Number(process.env.BENCH_SECONDS ?? process.env.BENCH_DURATION_S ?? 3);
let seq = 0;
const nodeOpts = (cpu) => ({
  ...(cpu !== undefined ? { cpu } : {}),
  bin: BIN,
  args: ['run', '--http-addr', '127.0.0.1:0', '--gateway-addr', '127.0.0.1:0', '--data-dir', scratchDir(`macronode-${++seq}`)],
  env: { LOG_LEVEL: 'info', RON_CONFIG: '' },
  timeoutMs: 60_000,
});
const json = async (url) => (await fetch(url)).json();
const rssMiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the macronode benchmark. Returns { program, title, sections: markdown[], budgets: [{what, budget,
 * measured, ok}], method: string[] } (the shape benchmarks/run.mjs renders).
 */
export async function run(o = {}) {
  ROUNDS = o.rounds ?? ROUNDS;
  DURATION = o.seconds ?? DURATION;
  const tool = o.tool ?? (await ensureLoadTool());

  // 1. Cold start to ready (every plane).
  // Pinned like every contender (host and its planes share one core), and on both cores as deployed.
  const cold = await coldStart(() => nodeOpts(), 5);
  const coldAll = await coldStart(() => nodeOpts('0-1'), 5);

  // 2. Crash → ready again (first restart of kv), one fresh node per sample; pinned and on both cores.
  const crashOnce = async (cpu) => {
    const n = await startProgram(nodeOpts(cpu));
    const pid = (await json(`${n.url}/api/v1/status`)).services.kv.pid;
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    for (;;) {
      const s = (await json(`${n.url}/api/v1/status`)).services.kv;
      if (s.restarts >= 1 && s.state === 'running') break;
      await sleep(10);
    }
    const ms = performance.now() - t0;
    await n.stop();
    return ms;
  };
  const crash = [];
  const crashAll = [];
  for (let i = 0; i < 3; i++) crash.push(await crashOnce());
  for (let i = 0; i < 3; i++) crashAll.push(await crashOnce('0-1'));

  // 3. Gateway overhead and 4. RSS at idle, on one node.
  const n = await startProgram(nodeOpts());
  const gw = String(n.ready.gateway_url);
  await fetch(`${gw}/v1/kv/bench/k`, { method: 'PUT', body: 'x'.repeat(256) });
  await sleep(1000);
  const status = await json(`${n.url}/api/v1/status`);
  const rss = [['macronode host (admin + supervisor)', n.pid]];
  for (const [name, s] of Object.entries(status.services)) if (s.pid) rss.push([`plane ${name}`, s.pid]);
  if (status.spare_runner_pid) rss.push(['warm spare runner (supervisor.warm_spare)', status.spare_runner_pid]);
  const rssRows = rss.map(([label, pid]) => [label, pid, rssMiB(pid)]);
  const kvPid = status.services.kv.pid;
  const gwPid = status.services.gateway.pid;
  // Interleaved rounds; server CPU per request from /proc (direct: the kv plane; via the gateway: the
  // gateway plane + the kv plane), which stays meaningful when the shared VM is busy.
  // The floor: the cheapest node:http + undici proxy in front of the same kv plane, same core.
  const floor = await startProgram({ bin: join(root, 'benchmarks/lib/minimal-proxy.mjs'), env: { UPSTREAM: status.services.kv.url } });
  const contenders = [
    { name: 'kv-direct', label: 'KV GET direct to the kv plane', url: status.services.kv.url, path: '/v1/kv/bench/k', pids: [kvPid] },
    { name: 'kv-gateway', label: 'KV GET through the gateway', url: gw, path: '/v1/kv/bench/k', pids: [gwPid, kvPid] },
    {
      name: 'kv-floor',
      label: 'KV GET through a minimal node:http + undici proxy (no guards, ids, metrics; `benchmarks/lib/minimal-proxy.mjs`)',
      url: floor.url,
      path: '/v1/kv/bench/k',
      pids: [floor.pid, kvPid],
    },
  ];
  const runs = new Map(contenders.map((c) => [c.name, []]));
  for (const c of contenders) measure(c, { tool, durationS: 1 });
  for (let r = 1; r <= ROUNDS; r++) {
    for (const c of contenders) {
      const cpu0 = c.pids.reduce((a, p) => a + cpuSeconds(p), 0);
      const m = measure(c, { tool, durationS: DURATION });
      const cpu1 = c.pids.reduce((a, p) => a + cpuSeconds(p), 0);
      m.cpuUs = m.requests > 0 ? ((cpu1 - cpu0) * 1e6) / m.requests : NaN;
      runs.get(c.name).push(m);
      process.stderr.write(`round ${r}/${ROUNDS} ${c.name.padEnd(12)} ${m.rps.toFixed(0).padStart(7)} req/s  p99 ${m.p99.toFixed(2)} ms  cpu ${m.cpuUs.toFixed(1)} µs/req\n`);
    }
  }
  const results = contenders.map((c) => {
    const rs = runs.get(c.name);
    return { ...c, rps: median(rs.map((x) => x.rps)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), cpuUs: median(rs.map((x) => x.cpuUs)) };
  });
  await floor.stop();
  await n.stop();

  // The same comparison with the node on both cores (as deployed on this VM): gateway and kv plane
  // can then run side by side, while the load generator shares core 1 with one of them.
  const nAll = await startProgram(nodeOpts('0-1'));
  const gwAll = String(nAll.ready.gateway_url);
  await fetch(`${gwAll}/v1/kv/bench/k`, { method: 'PUT', body: 'x'.repeat(256) });
  await sleep(1000);
  const statusAll = await json(`${nAll.url}/api/v1/status`);
  const both = [
    { name: 'kv-direct-2c', url: statusAll.services.kv.url, path: '/v1/kv/bench/k' },
    { name: 'kv-gateway-2c', url: gwAll, path: '/v1/kv/bench/k' },
  ];
  const bothRuns = new Map(both.map((c) => [c.name, []]));
  for (const c of both) measure(c, { tool, durationS: 1 });
  for (let r = 1; r <= ROUNDS; r++) {
    for (const c of both) {
      const m = measure(c, { tool, durationS: DURATION });
      bothRuns.get(c.name).push(m);
      process.stderr.write(`round ${r}/${ROUNDS} ${c.name.padEnd(14)} ${m.rps.toFixed(0).padStart(7)} req/s (node on both cores)\n`);
    }
  }
  await nAll.stop();
  const ratioAll = median(bothRuns.get('kv-gateway-2c').map((x) => x.rps)) / median(bothRuns.get('kv-direct-2c').map((x) => x.rps));

  const ratio = results[1].rps / results[0].rps;
  const cpuRatio = results[0].cpuUs / results[1].cpuUs;
  const floorRatio = results[2].rps / results[0].rps;
  const out = [
    '| measure | value | budget |',
    '|---|---|---|',
    `| start → ready, every plane (median of ${cold.runs.length}, wall from spawn, pinned to one core) | ${cold.medianMs.toFixed(0)} ms (self-reported ${cold.selfReportedMs ?? 'n/a'} ms) | < 1500 ms |`,
    `| start → ready, every plane, both cores (median of ${coldAll.runs.length}) | ${coldAll.medianMs.toFixed(0)} ms (self-reported ${coldAll.selfReportedMs ?? 'n/a'} ms) | < 1500 ms |`,
    `| kill -9 kv → kv ready again (median of ${crash.length}, first restart incl. 100 ms min backoff, pinned to one core) | ${median(crash).toFixed(0)} ms | < 1000 ms |`,
    `| kill -9 kv → kv ready again, both cores (median of ${crashAll.length}) | ${median(crashAll).toFixed(0)} ms | < 1000 ms |`,
    `| gateway overhead: KV GET via gateway / direct, throughput (median of ${ROUNDS} paired rounds) | ${ratio.toFixed(2)} | ≥ 0.60 |`,
    `| gateway overhead: server CPU per request, direct / via gateway (gateway + kv CPU) | ${cpuRatio.toFixed(2)} | |`,
    `| the floor: KV GET via a minimal node:http + undici proxy / direct, same core (paired rounds) | ${floorRatio.toFixed(2)} | (reference) |`,
    `| gateway overhead with the node on both cores (as deployed; load generator shares core 1) | ${ratioAll.toFixed(2)} | |`,
    '',
    '| contender | req/s (median) | p50 ms | p99 ms | server CPU µs/req |',
    '|---|---|---|---|---|',
    ...results.map((r) => `| ${r.label} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.cpuUs.toFixed(1)} |`),
    '',
    '| process (idle) | pid | RSS MiB |',
    '|---|---|---|',
    ...rssRows.map(([l, p, r]) => `| ${l} | ${p} | ${r.toFixed(1)} |`),
    `| **total** | | ${rssRows.reduce((a, r) => a + r[2], 0).toFixed(1)} |`,
  ];
  const totalRss = rssRows.reduce((a, r) => a + r[2], 0);
  const budgets = [
    { what: 'macronode start → ready with every plane, pinned to one core', budget: '< 1.5 s', measured: `${cold.medianMs.toFixed(0)} ms`, ok: cold.medianMs < 1500 },
    { what: 'macronode start → ready with every plane, both cores (as deployed)', budget: '< 1.5 s', measured: `${coldAll.medianMs.toFixed(0)} ms`, ok: coldAll.medianMs < 1500 },
    { what: 'macronode kill -9 kv → kv ready again (first restart), pinned to one core', budget: '< 1 s', measured: `${median(crash).toFixed(0)} ms`, ok: median(crash) < 1000 },
    { what: 'macronode kill -9 kv → kv ready again (first restart), both cores', budget: '< 1 s', measured: `${median(crashAll).toFixed(0)} ms`, ok: median(crashAll) < 1000 },
    {
      what: 'macronode gateway overhead: KV GET via gateway / direct to the kv plane',
      budget: '≥ 0.60',
      measured: `${ratio.toFixed(2)} (CPU-based ${cpuRatio.toFixed(2)}; both cores ${ratioAll.toFixed(2)}; a minimal proxy ${floorRatio.toFixed(2)})`,
      ok: ratio >= 0.6,
    },
    { what: 'macronode RSS of the whole node at idle (per process in the macronode section)', budget: 'reported (no number)', measured: `${totalRss.toFixed(0)} MiB`, ok: null },
  ];
  return {
    program: 'macronode',
    title: 'macronode (issue 5)',
    sections: [out.join('\n')],
    budgets,
    method: [
      'macronode: the host and its planes inherit the pinning to the server core (except the "both cores" rows); gateway vs direct are interleaved paired rounds with server CPU from /proc (gateway + kv plane for the proxied path).',
    ],
  };
}

await runStandalone(import.meta.url, 'macronode', run);
