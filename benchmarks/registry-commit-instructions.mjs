#!/usr/bin/env node
// Main-thread instructions per signed commit in svc-registry (SQLite, over HTTP), counted by
// callgrind instead of timed: the machine is a shared 2-core VM where wall clock varies ±30 %, while
// instruction counts do not depend on what else runs. They still vary by ~±5 % from run to run (V8
// is still compiling functions between N and 3N commits): compare several runs, not one. Of the
// ~3 M instructions a commit costs here, ~2 M are the Ed25519 verify (fe_mul, fe_sq in OpenSSL).
// The registry runs under
// `valgrind --tool=callgrind node --single-threaded` twice, once taking N signed commits and once 3N
// (each on a fresh SQLite file, then SIGTERM); start-up, shutdown and JIT warm-up cancel out of
//   (Ir(3N) − Ir(N)) / 2N
// which is what one more commit costs. The commits are signed up front by this process (not traced).
//   npx tsc -b && node benchmarks/registry-commit-instructions.mjs [N=200]
// One commit at a time, on one connection: concurrent clients are not measured this way, as their
// commits reach the registry out of order and under valgrind (~50× slower) the reorder window's
// time bound runs out, so what they cost depends on timing instead of on the code.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages/registry/bin/svc-registry.js');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
const N = Number(process.argv[2] ?? 200);

await reg.initChain();
const key = reg.generateKeyFile();
const tag = Date.now().toString(36);
const bodies = [];
for (let v = 1; v <= 3 * N; v++) {
  const payload_b3 = `b3:i${tag}-${v}`;
  const sig = reg.signBytes(
    key,
    reg.signedBytes({ registry: 'default', op: 'commit', payload_b3, version: v }),
  );
  bodies.push(JSON.stringify({ payload_b3, signatures: [sig] }));
}

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
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs the registry under callgrind for `count` commits; resolves to its total Ir. */
async function instructions(count) {
  const dir = mkdtempSync(join(tmpdir(), 'reg-ir-'));
  const out = join(dir, 'callgrind.out');
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--trace-children=no',
      `--callgrind-out-file=${out}`,
      process.execPath,
      '--single-threaded',
      BIN,
      '--db',
      join(dir, 'r.db'),
      '--bind',
      '127.0.0.1:0',
      '--admin-bind',
      '127.0.0.1:0',
      '--allow-signer',
      key.signer_id,
    ],
    { env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const ready = await new Promise((resolve, reject) => {
    void exited.then(({ code }) =>
      reject(new Error(`registry exited (${code}) before ready: ${stderr.slice(-2000)}`)),
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const l = JSON.parse(line);
      if (l.event === 'ready') resolve(l);
    });
  });
  const url = String(ready.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < count; i++) {
      const status = await post(agent, url, bodies[i]);
      if (status !== 200) throw new Error(`commit ${i + 1} answered ${status}`);
    }
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
  }
  await exited;
  const text = readFileSync(out, 'utf8');
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  rmSync(dir, { recursive: true, force: true });
  if (m === null) throw new Error('no totals in the callgrind output');
  return Number(m[1]);
}

const a = await instructions(N);
const b = await instructions(3 * N);
const per = (b - a) / (2 * N);
process.stdout.write(`${JSON.stringify({ n: N, ir_n: a, ir_3n: b, ir_per_commit: Math.round(per) })}\n`);
