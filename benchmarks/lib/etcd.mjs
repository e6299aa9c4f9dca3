// etcd as the durable-write peer (SPEC §6 "Peers in the same run", issue 11): Debian's etcd-server,
// installed with apt-get when missing, started on a temp dir with loopback ports, pinned like every
// contender, stopped by PID. Writes go through its JSON gateway (`POST /v3/kv/put`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { SERVER_CPU, pinned, scratchDir } from './harness.mjs';

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Makes sure `etcd` exists (apt-get install etcd-server when missing); throws when it cannot. */
export function ensureEtcd() {
  if (has('etcd')) return;
  process.stderr.write('etcd not found; trying apt-get install -y etcd-server\n');
  const sudo = process.getuid?.() === 0 ? '' : 'sudo -n ';
  const sh = (c) => spawnSync('sh', ['-c', `${sudo}${c}`], { stdio: 'ignore' }).status === 0;
  if (!(sh('apt-get update -qq') && sh('apt-get install -y -qq etcd-server') && has('etcd'))) throw new Error('etcd-server could not be installed');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function etcdVersion() {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  return /etcd Version: (\S+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

/**
 * Starts a single-member etcd with default durability (every write is in a raft log entry whose WAL
 * is fdatasync'ed before the write is acknowledged; the bbolt backend commits in the background).
 * Resolves once `/health` answers 200. Returns { url, pid, stop }.
 */
export async function startEtcd({ cpu = SERVER_CPU, timeoutMs = 60_000 } = {}) {
  ensureEtcd();
  const [client, peer] = [await freePort(), await freePort()];
  const dir = scratchDir(`etcd-${client}`);
  mkdirSync(dir, { recursive: true });
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const [cmd, argv] = pinned(cpu, 'etcd', [
    '--name', 'bench', '--data-dir', dir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `bench=${peerUrl}`, '--logger', 'zap', '--log-level', 'error',
  ]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${stderr}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`etcd not healthy in ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * wrk Lua for unique etcd PUTs through the JSON gateway: key and value are base64 text built from
 * base64-alphabet characters only (so they need no encoder): 1 000 keys of 6 bytes, values of
 * 256 bytes (340 characters + "AA=="), each value different (thread tag + counter).
 */
export function etcdPutScript(keys = 1000) {
  return `
local counter = 0
local tag = nil
local headers = { ["Content-Type"] = "application/json" }
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  tag = string.format("%08x", math.random(0, 0x7fffffff))
end
request = function()
  counter = counter + 1
  local key = string.format("k%07d", counter % ${keys})
  local head = tag .. "0" .. counter .. "0"
  local value = head .. string.rep("x", 340 - #head) .. "AA=="
  return wrk.format("POST", "/v3/kv/put", headers, '{"key":"' .. key .. '","value":"' .. value .. '"}')
end
`;
}

/**
 * Starts an n-member etcd cluster on loopback (issue 14 peer): each member its own temp data dir,
 * client and peer port, `--initial-cluster` listing every member's 127.0.0.1 peer URL, default
 * durability (a write is acknowledged once a quorum of members has its raft entry in their WAL,
 * each fdatasync'ed). Not pinned (like the registry replicas it is compared with). Resolves once
 * every member's `/health` answers 200 (a leader is elected). Returns { urls, pids, stop }.
 */
export async function startEtcdCluster({ members = 3, timeoutMs = 60_000 } = {}) {
  ensureEtcd();
  const ms = [];
  for (let i = 0; i < members; i++) {
    const [client, peer] = [await freePort(), await freePort()];
    ms.push({ name: `m${i}`, url: `http://127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}`, dir: scratchDir(`etcd-cluster-${client}`) });
  }
  const initial = ms.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const kids = ms.map((m) => {
    mkdirSync(m.dir, { recursive: true });
    const child = spawn(
      'etcd',
      [
        '--name', m.name, '--data-dir', m.dir,
        '--listen-client-urls', m.url, '--advertise-client-urls', m.url,
        '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
        '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'ron-bench',
        '--logger', 'zap', '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return { child, exited, stderr: () => stderr };
  });
  const stop = async () => {
    await Promise.all(
      kids.map(async (k) => {
        if (k.child.exitCode === null && k.child.signalCode === null) k.child.kill('SIGTERM');
        const t = setTimeout(() => k.child.kill('SIGKILL'), 5000);
        await k.exited;
        clearTimeout(t);
      }),
    );
  };
  const t0 = Date.now();
  for (const [i, m] of ms.entries()) {
    for (;;) {
      const k = kids[i];
      if (k.child.exitCode !== null) {
        await stop();
        throw new Error(`etcd member ${m.name} exited with ${k.child.exitCode}: ${k.stderr()}`);
      }
      try {
        const r = await fetch(`${m.url}/health`);
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() - t0 > timeoutMs) {
        await stop();
        throw new Error(`etcd member ${m.name} not healthy in ${timeoutMs} ms: ${k.stderr()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { urls: ms.map((m) => m.url), pids: kids.map((k) => k.child.pid), stop };
}
