#!/usr/bin/env node
// Short A/B measurement of the micronode hot paths (not the published benchmark):
//   QUICK_BASE=/path/to/other/tree BENCH_ROUNDS=5 BENCH_SECONDS=2 node benchmarks/quick.mjs [names...]
// With QUICK_BASE, a second micronode built from that tree runs interleaved with this one (suffix `_base`).
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLoadTool, interleave, median, scratchDir, startBare, startProgram } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const only = process.argv.slice(2);

async function nodeSet(tag, treeRoot) {
  const bin = join(treeRoot, 'packages/micronode/bin/micronode.js');
  const mem = await startProgram({ bin, args: ['--bind', '127.0.0.1:0'], env: { MICRONODE_STORAGE_ENGINE: 'mem' } });
  const sql = await startProgram({
    bin,
    args: ['--bind', '127.0.0.1:0'],
    env: { MICRONODE_STORAGE_ENGINE: 'sqlite', MICRONODE_STORAGE_PATH: join(scratchDir(`q${tag}`), 'q.db') },
  });
  const value = Buffer.alloc(256, 0x61);
  for (const n of [mem, sql]) {
    const r = await fetch(`${n.url}/v1/kv/bench/k256`, { method: 'PUT', body: value });
    if (r.status !== 201) throw new Error(`preload failed: ${r.status}`);
  }
  const s = tag ? `_${tag}` : '';
  return {
    procs: [mem, sql],
    contenders: [
      { name: `healthz${s}`, pid: mem.pid, url: mem.url, path: '/healthz' },
      { name: `reject415${s}`, pid: mem.pid, url: mem.url, method: 'PUT', path: '/v1/kv/bench/k256', headers: { 'Content-Encoding': 'gzip' }, body: 'x' },
      { name: `get_mem${s}`, pid: mem.pid, url: mem.url, path: '/v1/kv/bench/k256' },
      { name: `get_sqlite${s}`, pid: sql.pid, url: sql.url, path: '/v1/kv/bench/k256' },
    ],
  };
}

const tool = await ensureLoadTool();
const bare = await startBare();
const sets = [await nodeSet('', root)];
// QUICK_BASE=/a/tree[,name=/b/tree...]: more builds, each run interleaved with this one.
for (const [i, spec] of (process.env.QUICK_BASE ?? '').split(',').filter(Boolean).entries()) {
  const [name, dir] = spec.includes('=') ? spec.split('=') : [i === 0 ? 'base' : `base${i}`, spec];
  sets.push(await nodeSet(name, dir));
}
let contenders = [{ name: 'bare', pid: bare.pid, url: bare.url, path: '/' }];
for (const s of sets) contenders.push(...s.contenders);
if (only.length) contenders = contenders.filter((c) => c.name === 'bare' || only.some((o) => c.name.startsWith(o)));
const results = await interleave(contenders, { rounds: ROUNDS, durationS: SECONDS, tool });
const by = Object.fromEntries(results.map((r) => [r.name, r]));
const minCpu = (r) => Math.min(...r.runs.map((x) => x.cpuUs));
for (const r of results) {
  const suffix = /^(?:healthz|reject415|get_mem|get_sqlite)(_.+)?$/.exec(r.name)?.[1] ?? '';
  const h = r.name === 'bare' ? undefined : by[`healthz${suffix}`];
  process.stdout.write(
    `${r.name.padEnd(18)} rps ${r.rps.toFixed(0).padStart(6)}  vs bare ${(r.rps / by.bare.rps).toFixed(2)}  vs healthz ${h ? (r.rps / h.rps).toFixed(2) : '-'}` +
      `  cpu med ${r.cpuUs.toFixed(1)} min ${minCpu(r).toFixed(1)} µs  cpu-ratio vs bare ${(minCpu(by.bare) / minCpu(r)).toFixed(2)}` +
      `${h ? ` vs healthz ${(minCpu(h) / minCpu(r)).toFixed(2)}` : ''}${r.non2xx ? `  non2xx ${r.non2xx}` : ''}\n`,
  );
}
await bare.stop();
for (const s of sets) for (const p of s.procs) await p.stop();
void median;
