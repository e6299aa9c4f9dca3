// The governance apply-latency client (benchmarks/governance.mjs), as its own process so the harness
// can pin it to the load core like every other load generator. Sequential publishes through HTTP on
// one keep-alive node:http connection: POST /v1/registry/proposals with 3 of 5 signatures (signed up
// front, outside the timing), then POST /v1/registry/apply/{id}. Prints one JSON line with the
// per-sample times in ms: {propose:[...], apply:[...], both:[...]}.
//   node apply-client.mjs <url> <samples> <warmup> <prefix>   (keys: APPLY_KEYS env, JSON array)
import http from 'node:http';

const [url, samplesArg, warmupArg, prefix] = process.argv.slice(2);
const samples = Number(samplesArg);
const warmup = Number(warmupArg);
const reg = await import(new URL('../../packages/registry/dist/src/index.js', import.meta.url));
await reg.initChain();
const keys = JSON.parse(process.env.APPLY_KEYS ?? '[]');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(path, body) {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const rq = http.request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    rq.on('error', reject);
    rq.end(data);
  });
}

const total = samples + warmup;
const bodies = [];
for (let i = 0; i < total; i++) {
  const descriptor = { id: `${prefix}-${i}@bench`, kind: 'service', version: 1, body: { region: 'bench', addr: `10.9.${(i >> 8) & 255}.${i & 255}:9000`, tls: true, weight: 1 } };
  const bytes = reg.governanceSignedBytes('default', { op: 'publish', descriptor });
  bodies.push({ op: 'publish', descriptor, signatures: keys.slice(0, 3).map((k) => reg.signBytes(k, bytes)) });
}
const out = { propose: [], apply: [], both: [] };
for (let i = 0; i < total; i++) {
  const t0 = performance.now();
  const p = await post('/v1/registry/proposals', bodies[i]);
  const t1 = performance.now();
  if (p.status !== 202 || p.body.state !== 'ready') throw new Error(`proposal ${i}: ${p.status} ${JSON.stringify(p.body).slice(0, 300)}`);
  const a = await post(`/v1/registry/apply/${p.body.proposal_id}`, {});
  const t2 = performance.now();
  if (a.status !== 200) throw new Error(`apply ${i}: ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
  if (i < warmup) continue;
  out.propose.push(t1 - t0);
  out.apply.push(t2 - t1);
  out.both.push(t2 - t0);
}
agent.destroy();
process.stdout.write(`${JSON.stringify(out)}\n`);
