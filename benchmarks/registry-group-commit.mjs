#!/usr/bin/env node
// svc-registry signed commits over HTTP on SQLite: 16 concurrent clients vs one at a time (SPEC §6
// "Durable writes": budget ≥ 5×). Standalone, prints markdown:
//   npx tsc -b && BENCH_SECONDS=5 node benchmarks/registry-group-commit.mjs
// Each commit is signed by the client over its version (head + 1 at the time it is sealed), so
// concurrent clients share one version counter: client i takes the next version, signs it and posts.
// The server seals in arrival order; a commit that arrives out of order (or after one that failed)
// gets 422 and its client resynchronises from the head — counted and reported, not hidden.
// The registry runs pinned to the server core; this process (the clients, which also sign) runs
// unpinned, as in registry.mjs.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import { mkdirSync } from 'node:fs';
import { scratchDir, startProgram, stopAll } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages/registry/bin/svc-registry.js');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);

await reg.initChain();
const key = reg.generateKeyFile();
const sign = (payload, version) =>
  reg.signBytes(key, reg.signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }));

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/registry/commit`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function headVersion(url) {
  return (await (await fetch(`${url}/registry/head`)).json()).version;
}

/** `clients` concurrent committers for `seconds`; returns {rate, ok, refused}. */
async function storm(url, clients, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let next = (await headVersion(url)) + 1;
  let ok = 0;
  let refused = 0;
  let n = 0;
  let inflight = 0;
  /** Set while the shared counter is being resynchronised: workers wait before taking a version. */
  let paused;
  let drained;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const worker = async (w) => {
    while (performance.now() < end) {
      if (paused) {
        await paused;
        continue;
      }
      const v = next++;
      const payload = `b3:c${w}-${n++}`;
      inflight++;
      const r = await post(
        agent,
        url,
        JSON.stringify({ payload_b3: payload, signatures: [sign(payload, v)] }),
      );
      inflight--;
      if (inflight === 0) drained?.();
      if (r.status === 200) {
        ok++;
        continue;
      }
      if (r.status !== 422) throw new Error(`commit: ${r.status} ${r.body}`);
      refused++;
      if (paused) continue;
      // Out of order: stop taking versions, let the in-flight posts land, restart from the head.
      let resume;
      paused = new Promise((res) => (resume = res));
      if (inflight > 0) await new Promise((res) => (drained = res));
      drained = undefined;
      next = (await headVersion(url)) + 1;
      paused = undefined;
      resume();
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  return { rate: ok / secs, ok, refused };
}

/**
 * In process, no HTTP: Registry.commit (Ed25519 verify + seal + durable append) on SQLite with
 * `window` commits in flight. Commits are issued in version order, so none is refused: this is what
 * the pipelined registry does when commits reach it in order.
 */
async function inProcess(window, seconds) {
  const dir = scratchDir(`inproc-${window}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const { registry } = await reg.Registry.open(new reg.SqliteStore(join(dir, 'r.db')), {
    registryId: 'default',
    signers: [key.signer_id],
    threshold: 1,
  });
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p = await startProgram({
  bin: BIN,
  timeoutMs: START_TIMEOUT_MS,
  args: [
    '--db',
    join(scratchDir('gc-commits'), 'r.db'),
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
let refusedMany = 0;
let okMany = 0;
try {
  await storm(p.url, 1, 1); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    one.push((await storm(p.url, 1, SECONDS)).rate);
    const m = await storm(p.url, 16, SECONDS);
    many.push(m.rate);
    refusedMany += m.refused;
    okMany += m.ok;
    process.stderr.write(
      `round ${r + 1}: 1 client ${one.at(-1).toFixed(0)}/s, 16 clients ${m.rate.toFixed(0)}/s (${m.refused} out-of-order 422)\n`,
    );
  }
} finally {
  await p.stop();
}
const ip1 = [];
const ip16 = [];
for (let r = 0; r < ROUNDS; r++) {
  ip1.push(await inProcess(1, SECONDS));
  ip16.push(await inProcess(16, SECONDS));
  process.stderr.write(
    `in-process round ${r + 1}: 1 in flight ${ip1.at(-1).toFixed(0)}/s, 16 in flight ${ip16.at(-1).toFixed(0)}/s\n`,
  );
}
await stopAll();
const a = median(one);
const b = median(many);
console.log(
  '| svc-registry, SQLite, signed `POST /registry/commit` over HTTP | commits/s (median of ' +
    ROUNDS +
    ' × ' +
    SECONDS +
    ' s) |',
);
console.log('|---|---|');
console.log(`| 1 client, one at a time | ${a.toFixed(0)} |`);
console.log(
  `| 16 concurrent clients | ${b.toFixed(0)} (${((100 * refusedMany) / (okMany + refusedMany)).toFixed(1)} % of posts refused 422 out of order, retried) |`,
);
console.log(`| ratio | ${(b / a).toFixed(1)}× (budget ≥ 5×) |`);
console.log(`| in process (Registry.commit, no HTTP), 1 in flight | ${median(ip1).toFixed(0)} |`);
console.log(
  `| in process, 16 in flight (issued in version order) | ${median(ip16).toFixed(0)} (${(median(ip16) / median(ip1)).toFixed(1)}×) |`,
);
