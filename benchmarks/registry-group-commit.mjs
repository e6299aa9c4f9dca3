#!/usr/bin/env node
// svc-registry signed commits over HTTP on SQLite: 16 concurrent clients vs one at a time (SPEC §6
// "Durable writes": budget ≥ 5×). Part of benchmarks/registry.mjs (rows and a budget line);
// standalone it prints markdown:
//   npx tsc -b && BENCH_ROUNDS=3 BENCH_SECONDS=2 node benchmarks/registry-group-commit.mjs
// Each commit is signed by the client over the version it creates, so concurrent clients share one
// version counter: a connection ready to send takes the next version and posts the commit signed for
// it (wrk with a Lua script over bodies signed before the run; lib/commit-client.mjs when wrk is
// missing). The server's CPU per acknowledged commit is reported too, with the rate one pinned core
// could reach at 16 clients if it were fully busy (BENCH_DEBUG=1 prints wrk's output). The
// registry runs pinned to the server core, the load generator pinned to the load core; the two
// contenders (1 client, 16 clients) are interleaved round by round against the same registry. The
// server's reorder window (limits.reorder_window) places commits that arrive out of version order;
// how many waited, and how many were still refused, is read from its /metrics and reported.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOAD_CPU, cpuSeconds, ensureLoadTool, median, parseWrk, pinned, scratchDir, startProgram, stopAll } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages/registry/bin/svc-registry.js');
const CLIENT = join(root, 'benchmarks/lib/commit-client.mjs');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);

/**
 * One storm: `clients` connections posting signed commits for `seconds`, from wrk pinned to the load
 * core (or lib/commit-client.mjs when wrk is missing). {rate, ok, refused, tool}.
 */
async function storm(url, key, clients, seconds) {
  return (await hasWrk()) ? wrkStorm(url, key, clients, seconds) : nodeStorm(url, key, clients, seconds);
}

let wrkChecked;
function hasWrk() {
  wrkChecked ??= ensureLoadTool().then((t) => t === 'wrk');
  return wrkChecked;
}

/**
 * The storm from wrk. The bodies are signed here before wrk starts, one per version from head + 1
 * on, written one per line to a file the Lua script loads; wrk's single thread hands the next
 * version to whichever connection is ready to send, so — as with the node client — versions are
 * taken in order but may reach the server out of order. Why wrk: the node client spends ~170 µs of
 * CPU per commit on its one core, and at 16 connections it becomes a serial stage in every commit's
 * round trip (the 16 commits of a cycle wait for it in turn), which sixteen real clients on their own
 * machines do not. A refused commit (422) is counted; nothing resynchronises, so a refusal would
 * cascade (the later versions wait and expire) — and is reported, never hidden.
 */
async function wrkStorm(url, key, clients, seconds) {
  const head = (await (await fetch(`${url}/registry/head`)).json()).version;
  // Enough versions for a fast machine (one client ≤ 6 000 commits/s, e.g. an fsync of ~100 µs;
  // sixteen ≤ 16 000 /s), signed outside the timing (~29 000 signatures/s on this VM).
  const n = Math.ceil(seconds * (clients === 1 ? 6000 : 16_000));
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const lines = [];
  for (let v = head + 1; v <= head + n; v++) {
    const payload = `b3:w${tag}-${v}`;
    const sig = reg.signBytes(key, reg.signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version: v }));
    lines.push(JSON.stringify({ payload_b3: payload, signatures: [sig] }));
  }
  const dir = scratchDir('gc-wrk');
  mkdirSync(dir, { recursive: true });
  const bodies = join(dir, `bodies-${clients}-${head}.txt`);
  writeFileSync(bodies, `${lines.join('\n')}\n`);
  const script = join(dir, `storm-${clients}-${head}.lua`);
  writeFileSync(
    script,
    `
local bodies = {}
local nextv = 0
ran_out = 0
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
local headers = { ["Content-Type"] = "application/json" }
for line in io.lines(${JSON.stringify(bodies)}) do bodies[#bodies + 1] = line end
local calls = 0
request = function()
  calls = calls + 1
  -- wrk calls request() once on thread 0's state to check the script (script_verify_request) and
  -- discards the result: that first call gets a harmless head read, not a version.
  if calls == 1 then return wrk.format("GET", "/registry/head") end
  nextv = nextv + 1
  local b = bodies[nextv]
  if b == nil then
    ran_out = ran_out + 1
    return wrk.format("GET", "/registry/head")
  end
  return wrk.format("POST", "/registry/commit", headers, b)
end
done = function(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("ran_out") or 0) end
  io.write(string.format("RAN_OUT %d\\n", n))
end
`,
  );
  const [cmd, argv] = pinned(LOAD_CPU, 'wrk', ['-t1', `-c${clients}`, `-d${seconds}s`, '--latency', '-s', script, new URL(url).origin]);
  const out = await new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    child.stdout.on('data', (d) => (o += d));
    child.stderr.on('data', (d) => (o += d));
    child.once('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`wrk failed (${code}): ${o.slice(0, 1000)}`))));
  });
  const w = parseWrk(out);
  const ranOut = Number(/RAN_OUT (\d+)/.exec(out)?.[1] ?? 0);
  if (process.env.BENCH_DEBUG) process.stderr.write(out);
  if (ranOut > 0) throw new Error(`the storm ran out of pre-signed commits (${n}); raise the bound in wrkStorm`);
  const ok = w.requests - w.non2xx;
  return { rate: ok / seconds, ok, refused: w.non2xx, p50: w.p50, p99: w.p99, tool: 'wrk' };
}

/** One storm from lib/commit-client.mjs pinned to the load core: {rate, ok, refused}. */
function nodeStorm(url, key, clients, seconds) {
  const [cmd, argv] = pinned(LOAD_CPU, process.execPath, [CLIENT, url, String(clients), String(seconds)]);
  // Not spawnSync: this process must keep draining the registry's stdout (its log) meanwhile.
  const child = spawn(cmd, argv, {
    env: { ...process.env, COMMIT_KEY: JSON.stringify(key) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`commit client failed (${code}): ${err.slice(0, 1000)}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()));
    }),
  );
}

/** registry_commit_reorder_total by result, from the admin plane. */
async function reorderCounts(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const get = (r) =>
    Number(new RegExp(`registry_commit_reorder_total\\{result="${r}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { sealed: get('sealed'), expired: get('expired') };
}

/**
 * In process, no HTTP: Registry.commit (Ed25519 verify + seal + durable append) on SQLite with
 * `window` commits in flight, issued in version order: what the pipelined registry does when
 * commits reach it in order.
 */
async function inProcess(key, window, seconds) {
  const dir = scratchDir(`inproc-${window}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const { registry } = await reg.Registry.open(new reg.SqliteStore(join(dir, 'r.db')), {
    registryId: 'default',
    signers: [key.signer_id],
    threshold: 1,
  });
  const sign = (payload, version) =>
    reg.signBytes(key, reg.signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }));
  let v = registry.head.version;
  let ok = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const lane = async () => {
    while (performance.now() < end) {
      const version = ++v;
      const payload = `b3:p${version}`;
      await registry.commit({ payload_b3: payload, signatures: [sign(payload, version)] });
      ok++;
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const rate = ok / ((performance.now() - t0) / 1000);
  await registry.store.close();
  return rate;
}

/**
 * Runs the comparison: `rounds` interleaved rounds of `seconds` each (1 client, then 16), against one
 * registry on a fresh SQLite file; then the in-process rows. Returns medians, totals and table rows.
 */
export async function measureGroupCommit(o = {}) {
  const rounds = o.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const seconds = o.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const log = o.log ?? ((s) => process.stderr.write(`${s}\n`));
  await reg.initChain();
  const key = reg.generateKeyFile();
  const dir = scratchDir('gc-commits');
  mkdirSync(dir, { recursive: true });
  const p = await startProgram({
    bin: BIN,
    timeoutMs: START_TIMEOUT_MS,
    args: [
      '--db',
      join(dir, 'r.db'),
      '--bind',
      '127.0.0.1:0',
      '--admin-bind',
      '127.0.0.1:0',
      '--allow-signer',
      key.signer_id,
    ],
  });
  const one = [];
  const many = [];
  const cpu1 = [];
  const cpu16 = [];
  const busy16 = [];
  const totals = { ok: 0, refused: 0, sealed: 0, expired: 0 };
  /** A storm plus the server's CPU over it (all its threads): µs per acknowledged commit, core share. */
  const measured = async (clients) => {
    const c0 = cpuSeconds(p.pid);
    const t0 = performance.now();
    const m = await storm(p.url, key, clients, seconds);
    const cpu = cpuSeconds(p.pid) - c0;
    return { ...m, cpuUs: (cpu * 1e6) / Math.max(1, m.ok), busy: cpu / ((performance.now() - t0) / 1000) };
  };
  try {
    await storm(p.url, key, 16, 1); // warm-up
    for (let r = 0; r < rounds; r++) {
      const s1 = await measured(1);
      one.push(s1.rate);
      cpu1.push(s1.cpuUs);
      const before = await reorderCounts(p.ready.admin_url);
      const m = await measured(16);
      cpu16.push(m.cpuUs);
      busy16.push(m.busy);
      const after = await reorderCounts(p.ready.admin_url);
      many.push(m.rate);
      totals.ok += m.ok;
      totals.refused += m.refused;
      totals.sealed += after.sealed - before.sealed;
      totals.expired += after.expired - before.expired;
      log(
        `group commit round ${r + 1}: 1 client ${one.at(-1).toFixed(0)}/s, 16 clients ${m.rate.toFixed(0)}/s ` +
          `(${after.sealed - before.sealed} waited in the reorder window, ${m.refused} refused 422); ` +
          `server CPU ${s1.cpuUs.toFixed(0)} / ${m.cpuUs.toFixed(0)} µs per commit, ${(100 * m.busy).toFixed(0)} % of its core at 16`,
      );
    }
  } finally {
    await p.stop();
  }
  const ip1 = [];
  const ip16 = [];
  for (let r = 0; r < rounds; r++) {
    ip1.push(await inProcess(key, 1, seconds));
    ip16.push(await inProcess(key, 16, seconds));
    log(
      `in-process round ${r + 1}: 1 in flight ${ip1.at(-1).toFixed(0)}/s, 16 in flight ${ip16.at(-1).toFixed(0)}/s`,
    );
  }
  const a = median(one);
  const b = median(many);
  const posts = totals.ok + totals.refused;
  const pct = (x) => `${((100 * x) / Math.max(1, posts)).toFixed(1)} %`;
  const rows = [
    [
      `signed POST /registry/commit over HTTP on SQLite, 1 client one at a time (median of ${rounds} × ${seconds} s)`,
      `${a.toFixed(0)} /s`,
    ],
    [
      'signed POST /registry/commit over HTTP on SQLite, 16 concurrent clients',
      `${b.toFixed(0)} /s (${(b / a).toFixed(1)}×; ${pct(totals.sealed)} of posts waited in the reorder window, ${pct(totals.refused)} refused 422)`,
    ],
    [
      'server CPU per acknowledged commit (all its threads), 1 client / 16 clients; its core busy at 16',
      `${median(cpu1).toFixed(0)} / ${median(cpu16).toFixed(0)} µs; ${(100 * median(busy16)).toFixed(0)} %`,
    ],
    [
      'ceiling on the server core: 16 clients at 100 % of the core (10⁶ ÷ CPU per commit at 16), vs the 1-client rate',
      `${(1e6 / median(cpu16)).toFixed(0)} /s (${(1e6 / median(cpu16) / a).toFixed(1)}×)`,
    ],
    ['Registry.commit in process (no HTTP) on SQLite, 1 in flight', `${median(ip1).toFixed(0)} /s`],
    [
      'Registry.commit in process on SQLite, 16 in flight (issued in version order)',
      `${median(ip16).toFixed(0)} /s (${(median(ip16) / median(ip1)).toFixed(1)}×)`,
    ],
  ];
  return { one: a, many: b, ratio: b / a, cpu1: median(cpu1), cpu16: median(cpu16), busy16: median(busy16), ceiling: 1e6 / median(cpu16) / a, totals, inProcess1: median(ip1), inProcess16: median(ip16), rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const r = await measureGroupCommit();
    console.log('| measurement | result |');
    console.log('|---|---|');
    for (const [k, v] of r.rows) console.log(`| ${k} | ${v} |`);
    console.log(`| ratio, 16 clients vs 1 (budget ≥ 5×) | ${r.ratio.toFixed(1)}× |`);
  } finally {
    await stopAll();
  }
}
