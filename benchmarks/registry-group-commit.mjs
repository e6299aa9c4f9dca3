#!/usr/bin/env node
// svc-registry signed commits over HTTP on SQLite: 16 concurrent clients vs one at a time (SPEC §6
// "Durable writes": budget ≥ 5×). Part of benchmarks/registry.mjs (rows and a budget line);
// standalone it prints markdown:
//   npx tsc -b && BENCH_ROUNDS=3 BENCH_SECONDS=2 node benchmarks/registry-group-commit.mjs
// Each commit is signed by the client over the version it creates, so concurrent clients share one
// version counter (lib/commit-client.mjs): client i takes the next version, signs it and posts. The
// registry runs pinned to the server core, the client process pinned to the load core; the two
// contenders (1 client, 16 clients) are interleaved round by round against the same registry. The
// server's reorder window (limits.reorder_window) places commits that arrive out of version order;
// how many waited, and how many were still refused, is read from its /metrics and reported.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOAD_CPU, median, pinned, scratchDir, startProgram, stopAll } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages/registry/bin/svc-registry.js');
const CLIENT = join(root, 'benchmarks/lib/commit-client.mjs');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);

/** One storm from lib/commit-client.mjs pinned to the load core: {rate, ok, refused}. */
function storm(url, key, clients, seconds) {
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
  const totals = { ok: 0, refused: 0, sealed: 0, expired: 0 };
  try {
    await storm(p.url, key, 16, 1); // warm-up
    for (let r = 0; r < rounds; r++) {
      one.push((await storm(p.url, key, 1, seconds)).rate);
      const before = await reorderCounts(p.ready.admin_url);
      const m = await storm(p.url, key, 16, seconds);
      const after = await reorderCounts(p.ready.admin_url);
      many.push(m.rate);
      totals.ok += m.ok;
      totals.refused += m.refused;
      totals.sealed += after.sealed - before.sealed;
      totals.expired += after.expired - before.expired;
      log(
        `group commit round ${r + 1}: 1 client ${one.at(-1).toFixed(0)}/s, 16 clients ${m.rate.toFixed(0)}/s ` +
          `(${after.sealed - before.sealed} waited in the reorder window, ${m.refused} refused 422)`,
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
    ['Registry.commit in process (no HTTP) on SQLite, 1 in flight', `${median(ip1).toFixed(0)} /s`],
    [
      'Registry.commit in process on SQLite, 16 in flight (issued in version order)',
      `${median(ip16).toFixed(0)} /s (${(median(ip16) / median(ip1)).toFixed(1)}×)`,
    ],
  ];
  return { one: a, many: b, ratio: b / a, totals, inProcess1: median(ip1), inProcess16: median(ip16), rows };
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
