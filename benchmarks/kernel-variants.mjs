#!/usr/bin/env node
// Bisects the kernel's per-request cost against bare node:http (server CPU µs per request, minimum
// and median over interleaved rounds). Not part of npm run bench. Build first (npx tsc -b).
//   node benchmarks/kernel-variants.mjs [name:variant:routes ...]
//   default: fastify:fastify:1 f404x2:fastify+404:2 kernel1:kernel:1 kernel2:kernel:2
// KDIST=/other/tree/packages/kernel/dist/src/index.js compares another kernel build.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLoadTool, interleave, startBare, startProgram, stopAll } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const specs = process.argv.slice(2);
if (specs.length === 0) specs.push('fastify:fastify:1', 'f2:fastify:2', 'f404x2:fastify+404:2', 'kernel1:kernel:1', 'kernel2:kernel:2');
const tool = await ensureLoadTool();
const bare = await startBare();
const contenders = [{ name: 'bare', pid: bare.pid, url: bare.url, path: '/' }];
for (const spec of specs) {
  const [name, variant, routes = '1'] = spec.split(':');
  const p = await startProgram({ bin: join(here, 'lib/kernel-variant-server.mjs'), env: { VARIANT: variant, ROUTES: routes } });
  contenders.push({ name, pid: p.pid, url: p.url, path: '/healthz' });
}
const res = await interleave(contenders, { rounds: Number(process.env.BENCH_ROUNDS ?? 5), durationS: Number(process.env.BENCH_SECONDS ?? 2), tool });
const minOf = (r) => Math.min(...r.runs.map((x) => x.cpuUs));
const b = minOf(res[0]);
for (const r of res) {
  process.stdout.write(`${r.name.padEnd(10)} rps ${r.rps.toFixed(0).padStart(6)}  vs bare ${(r.rps / res[0].rps).toFixed(2)}  cpu min ${minOf(r).toFixed(1)} med ${r.cpuUs.toFixed(1)} µs  cpu-ratio ${(b / minOf(r)).toFixed(2)}\n`);
}
await stopAll();
