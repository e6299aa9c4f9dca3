// Reusable benchmark harness (SPEC §6): real child processes pinned with taskset, wrk (autocannon as
// a fallback) pinned to another core, contenders interleaved round-robin, medians of paired rounds.
//
// Typical use (see benchmarks/run.mjs):
//   const tool = await ensureLoadTool();
//   const bare = await startBare();
//   const prog = await startProgram({ bin, args: ['--bind', '127.0.0.1:0'], env });
//   const results = await interleave([{ name: 'bare', url: bare.url, path: '/' }, ...], { rounds: 5, tool });
//   console.log(renderTable(results, { baseline: 'bare' }));
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? '0';
export const LOAD_CPU = process.env.BENCH_LOAD_CPU ?? '1';
const scratch = mkdtempSync(join(tmpdir(), 'ron-bench-'));
const children = new Set();

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
const TASKSET = has('taskset');

/** Prefixes a command with `taskset -c <cpu>` when taskset exists. */
export function pinned(cpu, cmd, args) {
  return TASKSET ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

/** Makes sure a load generator exists: wrk (installed with apt-get when missing) or autocannon. */
export async function ensureLoadTool() {
  if (has('wrk')) return 'wrk';
  process.stderr.write('wrk not found; trying apt-get install -y wrk\n');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const sh = (c) => spawnSync('sh', ['-c', `${sudo.join(' ')} ${c}`], { stdio: 'ignore' }).status === 0;
  if (sh('apt-get update -qq') && sh('apt-get install -y -qq wrk') && has('wrk')) return 'wrk';
  process.stderr.write('wrk could not be installed; falling back to autocannon via npx\n');
  return 'autocannon';
}

/**
 * Starts a program as a child pinned to SERVER_CPU and resolves once it logs a JSON line with
 * `event === readyEvent` carrying `url`. Returns { url, pid, readyMs, ready, stop }.
 */
export function startProgram({ bin, args = [], env = {}, cwd, readyEvent = 'ready', cpu = SERVER_CPU, node = process.execPath, timeoutMs = 15_000 }) {
  const [cmd, argv] = pinned(cpu, node, [bin, ...args]);
  const t0 = performance.now();
  const child = spawn(cmd, argv, { cwd, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} not ready in ${timeoutMs} ms: ${stderr.slice(0, 1000)}`));
    }, timeoutMs);
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code} before ready: ${stderr.slice(0, 1000)}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let l;
      try {
        l = JSON.parse(line);
      } catch {
        return;
      }
      if (l.event !== readyEvent) return;
      clearTimeout(timer);
      resolve({
        url: String(l.url),
        pid: child.pid,
        ready: l,
        readyMs: performance.now() - t0,
        exited,
        stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** The bare node:http JSON server baseline, pinned like any program under test. */
export function startBare(opts = {}) {
  return startProgram({ bin: join(here, 'bare-server.mjs'), ...opts });
}

/** Stops every child the harness started (by PID) and removes its scratch dir. */
export async function stopAll() {
  await Promise.all([...children].map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); setTimeout(() => c.kill('SIGKILL'), 5000).unref(); })));
  rmSync(scratch, { recursive: true, force: true });
}

/** A scratch directory removed by stopAll(). */
export function scratchDir(name) {
  const d = join(scratch, name);
  return d;
}

function luaString(s) {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

/**
 * A wrk Lua script. `uniqueBody` writes a different body every request (SQLite skips identical
 * upserts): `<thread>-<counter>-` padded to `bodySize` bytes, spread over `keys` keys under `path`.
 */
function luaFor(c) {
  if (c.script !== undefined) return c.script;
  const headers = Object.entries(c.headers ?? {}).map(([k, v]) => `[${luaString(k)}] = ${luaString(String(v))}`).join(', ');
  if (c.uniqueBody) {
    const size = c.bodySize ?? 256;
    const keys = c.keys ?? 1000;
    return `
local counter = 0
local tag = nil
local headers = { ${headers} }
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  tag = string.format("%08x", math.random(0, 0x7fffffff))
end
request = function()
  counter = counter + 1
  local head = tag .. "-" .. counter .. "-"
  local body = head .. string.rep("x", ${size} - #head)
  return wrk.format(${luaString(c.method ?? 'PUT')}, ${luaString(c.path)} .. (counter % ${keys}), headers, body)
end
`;
  }
  return `
local headers = { ${headers} }
local body = ${c.body === undefined ? 'nil' : luaString(c.body)}
local req = nil
-- Built in init(): wrk fills in the Host header only after the script has loaded.
function init(args)
  req = wrk.format(${luaString(c.method ?? 'GET')}, ${luaString(c.path)}, headers, body)
end
request = function() return req end
`;
}

const UNIT = { us: 1e-3, ms: 1, s: 1000 };
function toMs(v) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  return m ? Number(m[1]) * UNIT[m[2]] : NaN;
}

/** Parses wrk --latency output into { rps, p50, p99, non2xx, errors }. */
export function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: (.*)/.exec(out)?.[1];
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  return { rps, p50, p99, non2xx, errors: sockErr ?? null, requests };
}

const CLK_TCK = 100; // Linux USER_HZ for /proc/<pid>/stat

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where unavailable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * One load run against one contender; returns { rps, p50, p99, non2xx, errors, cpuUs }. With
 * `c.pid`, `cpuUs` is the server's CPU time per request in µs: on a shared, noisy machine it tracks
 * the server's own cost even when the load generator is starved.
 */
export function measure(c, opts = {}) {
  const cpu0 = c.pid ? cpuSeconds(c.pid) : NaN;
  const r = measureLoad(c, opts);
  const cpu1 = c.pid ? cpuSeconds(c.pid) : NaN;
  r.cpuUs = r.requests > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests : NaN;
  return r;
}

function measureLoad(c, { tool = 'wrk', durationS = 3, connections = 16, threads = 1 } = {}) {
  const url = new URL(c.url);
  if (tool === 'wrk') {
    const script = join(scratch, `${c.name.replace(/[^a-z0-9]+/gi, '_')}.lua`);
    writeFileSync(script, luaFor(c));
    const [cmd, argv] = pinned(LOAD_CPU, 'wrk', [
      `-t${threads}`, `-c${connections}`, `-d${durationS}s`, '--latency', '-s', script, `${url.origin}`,
    ]);
    const out = execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 20 });
    return parseWrk(out);
  }
  // autocannon fallback: fixed bodies only (no per-request Lua).
  const [cmd, argv] = pinned(LOAD_CPU, 'npx', [
    '--yes', 'autocannon', '-j', '-c', String(connections), '-d', String(durationS),
    '-m', c.method ?? 'GET',
    ...Object.entries(c.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
    ...(c.body !== undefined || c.uniqueBody ? ['-b', c.body ?? `x`.repeat(c.bodySize ?? 256)] : []),
    `${url.origin}${c.uniqueBody ? `${c.path}0` : c.path}`,
  ]);
  const j = JSON.parse(execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 22 }));
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, non2xx: j.non2xx ?? 0, errors: j.errors || null, requests: j.requests.total };
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs every contender once per round, round-robin, for `rounds` rounds (after one short warm-up
 * each); returns per contender the raw runs and the medians. A contender may set its own
 * `connections` (e.g. 1 for a latency row) and its own wrk Lua `script` (e.g. a peer's request shape).
 * `swap`: pairs of contender names that trade places on even rounds (see orderFor).
 */
export async function interleave(contenders, { rounds = 5, durationS = 3, warmupS = 1, connections = 16, tool = 'wrk', swap = [], log = (s) => process.stderr.write(`${s}\n`) } = {}) {
  const runs = new Map(contenders.map((c) => [c.name, []]));
  for (const c of contenders) {
    await c.before?.();
    measure(c, { tool, durationS: warmupS, connections: c.connections ?? connections });
  }
  for (let r = 1; r <= rounds; r++) {
    for (const c of orderFor(contenders, swap, r)) {
      await c.before?.();
      const m = measure(c, { tool, durationS, connections: c.connections ?? connections });
      runs.get(c.name).push(m);
      log(`round ${r}/${rounds} ${c.name.padEnd(22)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.toFixed(3)} ms  p99 ${m.p99.toFixed(3)} ms  cpu ${m.cpuUs.toFixed(1)} µs/req${m.non2xx ? `  non-2xx ${m.non2xx}` : ''}${m.errors ? `  errors: ${m.errors}` : ''}`);
    }
  }
  return contenders.map((c) => {
    const rs = runs.get(c.name);
    return {
      name: c.name,
      label: c.label ?? c.name,
      runs: rs,
      rps: median(rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
      cpuUs: median(rs.map((x) => x.cpuUs)),
      non2xx: rs.reduce((a, x) => a + x.non2xx, 0),
    };
  });
}

/**
 * The contenders in the order round `r` runs them: each pair named in `swap` trades places on even
 * rounds (ABBA), so neither of two rows compared with each other always runs right after the same
 * neighbour (a p99 on a disk is moved by the writeback the previous run left behind).
 */
function orderFor(contenders, swap, r) {
  if (r % 2 === 1 || swap.length === 0) return contenders;
  const order = [...contenders];
  for (const [a, b] of swap) {
    const i = order.findIndex((c) => c.name === a);
    const j = order.findIndex((c) => c.name === b);
    if (i >= 0 && j >= 0) [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Median wall time from spawn to the ready line over `n` fresh starts (and the self-reported time). */
export async function coldStart(opts, n = 7) {
  const wall = [];
  const self = [];
  for (let i = 0; i < n; i++) {
    const o = typeof opts === 'function' ? opts(i) : opts;
    const p = await startProgram(o);
    wall.push(p.readyMs);
    if (typeof p.ready.startup_ms === 'number') self.push(p.ready.startup_ms);
    await p.stop();
  }
  return { medianMs: median(wall), runs: wall, selfReportedMs: self.length ? median(self) : null };
}

/** A markdown table of results with ratios against named references. */
export function renderTable(results, { ratios = [] } = {}) {
  const by = new Map(results.map((r) => [r.name, r]));
  const refs = ratios.length ? ratios : [];
  const head = ['contender', 'req/s (median)', 'p50 ms', 'p99 ms', ...refs.map((x) => `vs ${x}`), 'server CPU µs/req', ...refs.map((x) => `CPU-based vs ${x}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of results) {
    const cells = [
      r.label,
      r.rps.toFixed(0),
      r.p50.toFixed(3),
      r.p99.toFixed(3),
      ...refs.map((x) => (by.get(x) ? `${(r.rps / by.get(x).rps).toFixed(2)}` : '')),
      Number.isFinite(r.cpuUs) ? r.cpuUs.toFixed(1) : 'n/a',
      // Throughput a saturated core would give, relative to the reference: inverse CPU cost.
      ...refs.map((x) => (by.get(x) && Number.isFinite(r.cpuUs) ? `${(by.get(x).cpuUs / r.cpuUs).toFixed(2)}` : '')),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** A short description of the machine for the report. */
export function machine() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let wrkV = 'n/a';
  try {
    wrkV = execFileSync('wrk', ['-v'], { encoding: 'utf8' }).split('\n')[0];
  } catch (e) {
    wrkV = String(e.stdout ?? '').split('\n')[0] || 'n/a';
  }
  return `${cpus().length} × ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, ${process.platform} ${process.arch}, node ${process.version}, ${wrkV}`;
}

/** One program's result (`{title, sections, budgets}`) as the markdown a standalone run prints. */
export function renderProgram(r) {
  return [
    `## ${r.title}`,
    '',
    ...r.sections.flatMap((s) => [s, '']),
    '| budget | target | measured | result |',
    '|---|---|---|---|',
    ...r.budgets.map((b) => `| ${b.what} | ${b.budget} | ${b.measured} | ${b.ok === null ? 'reported' : b.ok ? 'met' : '**NOT met**'} |`),
  ].join('\n');
}

/**
 * Runs a benchmark script's `run()` when the script is the entry point (`node benchmarks/<name>.mjs
 * [--json]`): prints markdown (or JSON) and stops every child it started, failing with exit 1.
 */
export async function runStandalone(moduleUrl, name, run) {
  if (!process.argv[1] || fileURLToPath(moduleUrl) !== process.argv[1]) return;
  try {
    process.stderr.write(`${machine()}\n`);
    const r = await run();
    process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(r, null, 2)}\n` : `${renderProgram(r)}\n`);
  } catch (err) {
    process.stderr.write(`${name} bench failed: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
}
