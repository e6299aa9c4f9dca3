// The signed-commit storm client (benchmarks/registry-group-commit.mjs), as its own process so the
// harness can pin it to the load core like every other load generator. `clients` concurrent
// committers for `seconds`, each on its own keep-alive node:http connection. They share one version
// counter: a client takes the next version and posts the commit signed for it, so commits are taken
// in version order but may reach the server out of order. The commits of the next versions are
// signed up front, before the timed part (as registry.mjs does): sixteen real clients sign on their
// own machines, while here one process plays all of them and signing inside the loop would add
// sixteen serial Ed25519 signatures to every round of the 16-client contender and almost nothing to
// the 1-client one. Past the pre-signed range, commits are signed in the loop. A 422
// (a commit the server could not place: out of order past its reorder window, or sealed on a failed
// one) makes the clients stop taking versions, let the posts in flight land and restart the counter
// from the head — counted and reported, not hidden. Prints one JSON line:
// {rate, ok, refused, seconds}.
//   node commit-client.mjs <url> <clients> <seconds>   (key: COMMIT_KEY env, a key file as JSON)
import { Agent, request } from 'node:http';

const [url, clientsArg, secondsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const reg = await import(new URL('../../packages/registry/dist/src/index.js', import.meta.url));
await reg.initChain();
const key = JSON.parse(process.env.COMMIT_KEY ?? '{}');
const sign = (payload, version) =>
  reg.signBytes(key, reg.signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version }));
const agent = new Agent({ keepAlive: true, maxSockets: clients });

function post(body) {
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

async function headVersion() {
  return (await (await fetch(`${url}/registry/head`)).json()).version;
}

let next = (await headVersion()) + 1;
// Distinct bodies per run and version (SQLite skips byte-identical upserts; SPEC §6).
const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const body = (v) => {
  const payload = `b3:c${tag}-${v}`;
  return JSON.stringify({ payload_b3: payload, signatures: [sign(payload, v)] });
};
const signed = new Map();
const upFront = Math.min(50_000, Math.ceil(seconds * (clients === 1 ? 1500 : 4000)));
for (let v = next; v < next + upFront; v++) signed.set(v, body(v));
let ok = 0;
let refused = 0;
let inflight = 0;
/** Set while the shared counter is being resynchronised: workers wait before taking a version. */
let paused;
let drained;
const end = performance.now() + seconds * 1000;
const t0 = performance.now();
const worker = async () => {
  while (performance.now() < end) {
    if (paused) {
      await paused;
      continue;
    }
    const v = next++;
    inflight++;
    const r = await post(signed.get(v) ?? body(v));
    inflight--;
    if (inflight === 0) drained?.();
    if (r.status === 200) {
      ok++;
      continue;
    }
    if (r.status !== 422) throw new Error(`commit: ${r.status} ${r.body}`);
    refused++;
    if (paused) continue;
    // Out of order past the window: stop taking versions, let the in-flight posts land, restart
    // from the head.
    let resume;
    paused = new Promise((res) => (resume = res));
    if (inflight > 0) await new Promise((res) => (drained = res));
    drained = undefined;
    next = (await headVersion()) + 1;
    paused = undefined;
    resume();
  }
};
await Promise.all(Array.from({ length: clients }, () => worker()));
const secs = (performance.now() - t0) / 1000;
agent.destroy();
process.stdout.write(`${JSON.stringify({ rate: ok / secs, ok, refused, seconds: secs })}\n`);
