// The real program as a child process: CLI, exit codes, kill -9 durability, broken-chain refusal.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { connect } from 'node:net';
import { runProgram, spawnProgram, sseConnect, tempDir, type Program } from '@ron/testkit';
import { generateKeyFile, initChain, seal, signBytes, signedBytes, type LogEntry } from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { type Head } from '../src/log-entry.js';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));
const dir = tempDir('ron-registry-proc-');
const started: Program[] = [];
after(async () => {
  for (const p of started) await p.stop('SIGKILL');
  dir.remove();
});

const key = generateKeyFile();
const baseEnv = { SIGNER_ALLOWLIST: key.signer_id, SIG_THRESHOLD: '1', LOG_LEVEL: 'info' };
const ports = ['--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'];

async function spawnRegistry(db: string): Promise<Program> {
  const p = await spawnProgram({ bin: BIN, args: [...ports, '--db', db], env: baseEnv });
  started.push(p);
  return p;
}

async function commitAtHead(url: string, payload: string): Promise<{ status: number; head?: Head }> {
  const head = (await (await fetch(`${url}/registry/head`)).json()) as Head;
  const v = head.version + 1;
  const sig = signBytes(
    key,
    signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version: v }),
  );
  const res = await fetch(`${url}/registry/commit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload_b3: payload, signatures: [sig] }),
  });
  const body = (await res.json()) as Head;
  return res.status === 200 ? { status: 200, head: body } : { status: res.status };
}

test('version, config print and bad config (exit 78) from the real binary', async () => {
  const v = await runProgram(BIN, ['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^svc-registry \S+ \(commit \S+, built \S+\) node v\d+/);
  const p = await runProgram(
    BIN,
    ['config', 'print', '--sig-threshold', '1', '--allow-signer', key.signer_id],
    {
      env: { REGISTRY_SSE__HEARTBEAT_MS: '1s' },
    },
  );
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /sse\.heartbeat_ms\s+= 1000\s+# env \(REGISTRY_SSE__HEARTBEAT_MS\)/);
  assert.match(p.stdout, /governance\.threshold\s+= 1\s+# flag \(--sig-threshold\)/);
  const bad = await runProgram(BIN, [...ports, '--sig-threshold', '2', '--allow-signer', key.signer_id]);
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /governance\.threshold: sig_threshold 2 exceeds the 1 allow-listed signer/);
});

test('keygen and sign subcommands produce a signature the registry accepts', async () => {
  const keyPath = join(dir.path, 'dev.key');
  const kg = await runProgram(BIN, ['keygen', '--out', keyPath]);
  assert.equal(kg.code, 0, kg.stderr);
  const signer = kg.stdout.trim();
  assert.match(signer, /^ed25519:/);
  const p = await spawnProgram({
    bin: BIN,
    args: [...ports, '--amnesia', '--allow-signer', signer],
    env: { SIG_THRESHOLD: '1' },
  });
  started.push(p);
  const s = await runProgram(BIN, ['sign', '--key', keyPath, '--payload-b3', 'b3:cli', '--version', '1']);
  assert.equal(s.code, 0, s.stderr);
  const res = await fetch(`${p.url}/registry/commit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload_b3: 'b3:cli', signatures: [JSON.parse(s.stdout)] }),
  });
  assert.equal(res.status, 200);
  assert.equal(typeof p.ready.admin_url, 'string');
  assert.equal((await p.stop('SIGTERM')).code, 0);
});

test('kill -9 during a commit storm on SQLite loses no acknowledged commit; restart has a valid chain and head ≥ last ack', async () => {
  await initChain();
  const db = join(dir.path, 'storm', 'registry.db');
  const p1 = await spawnRegistry(db);
  const acked = new Map<number, string>();
  let stop = false;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stop) {
      const payload = `b3:w${w}-${n++}`;
      try {
        const r = await commitAtHead(p1.url, payload);
        if (r.head !== undefined) acked.set(r.head.version, payload);
        // 422 = lost the race for that version to another worker: retry with a fresh head.
      } catch {
        return; // connection refused/reset once the process is gone
      }
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  // Kill once a good number of commits are acknowledged, with requests still in flight.
  while (acked.size < 150) await new Promise((r) => setTimeout(r, 5));
  const killed = await p1.stop('SIGKILL');
  stop = true;
  await Promise.all(workers);
  assert.equal(killed.signal, 'SIGKILL');
  const lastAck = Math.max(...acked.keys());

  const p2 = await spawnRegistry(db);
  const head = (await (await fetch(`${p2.url}/registry/head`)).json()) as Head;
  assert.ok(head.version >= lastAck, `head ${head.version} < last ack ${lastAck}`);
  // Every acknowledged commit is there with its payload, and the whole history verifies.
  const v = new ChainVerifier();
  for (let from = 1; from <= head.version; from += 1000) {
    const page = (await (await fetch(`${p2.url}/registry/history?from=${from}&limit=1000`)).json()) as {
      entries: LogEntry[];
    };
    for (const e of page.entries) {
      v.push(e);
      const want = acked.get(e.version);
      if (want !== undefined) assert.equal(e.payload_b3, want, `version ${e.version}`);
    }
  }
  assert.equal(v.version, head.version);
  assert.equal(head.chain_b3, v.prev);
  // It keeps working after the crash.
  assert.equal((await commitAtHead(p2.url, 'b3:after-crash')).status, 200);
  assert.equal((await p2.stop('SIGTERM')).code, 0);
});

test('a tampered log refuses to start (exit 65), naming the first bad version', async () => {
  const db = join(dir.path, 'tamper', 'registry.db');
  const p = await spawnRegistry(db);
  for (let i = 1; i <= 8; i++) assert.equal((await commitAtHead(p.url, `b3:t${i}`)).status, 200);
  assert.equal((await p.stop('SIGTERM')).code, 0);
  const sql = new Database(db);
  sql.exec('DROP TRIGGER registry_log_no_update');
  const row = sql.prepare('SELECT entry FROM registry_log WHERE version = 5').get() as { entry: string };
  sql
    .prepare('UPDATE registry_log SET entry = ? WHERE version = 5')
    .run(JSON.stringify({ ...(JSON.parse(row.entry) as object), committed_at: '2000-01-01T00:00:00.000Z' }));
  sql.close();
  const r = await runProgram(BIN, [...ports, '--db', db], { env: baseEnv });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /corrupt at version 5/);
  assert.match(r.stderr, /refusing to start/);
});

// Every kind of corrupt row refuses start with exit 65 naming the bad version (SPEC §2.5). The
// attacker has file access: they drop the append-only triggers first.
test('every corrupt row at boot exits 65 naming the first bad version: unparsable, renumbered, gap, broken link', async () => {
  await initChain();
  const base = join(dir.path, 'corrupt-base', 'registry.db');
  const p = await spawnRegistry(base);
  for (let i = 1; i <= 8; i++) assert.equal((await commitAtHead(p.url, `b3:c${i}`)).status, 200);
  assert.equal((await p.stop('SIGTERM')).code, 0);
  const entryAt = (sql: Database.Database, v: number): LogEntry =>
    JSON.parse(
      (sql.prepare('SELECT entry FROM registry_log WHERE version = ?').get(v) as { entry: string }).entry,
    ) as LogEntry;
  const cases: { name: string; tamper: (sql: Database.Database) => void; want: RegExp }[] = [
    {
      name: 'unparsable',
      tamper: (sql) =>
        sql.prepare('UPDATE registry_log SET entry = \'{"version":4,\' WHERE version = 4').run(),
      want: /corrupt at version 4: the stored entry is not valid JSON/,
    },
    {
      // The last row renumbered: it used to boot "ready" and then refuse every write.
      name: 'renumbered',
      tamper: (sql) => sql.prepare('UPDATE registry_log SET version = 1000 WHERE version = 8').run(),
      want: /corrupt at version 1000: the row's version column says 1000 but its entry says 8/,
    },
    {
      name: 'gap',
      tamper: (sql) => sql.prepare('DELETE FROM registry_log WHERE version = 3').run(),
      want: /corrupt at version 3: expected version 3, found 4/,
    },
    {
      // Re-sealed so entry_b3 matches the content: only the link to version 5 is wrong.
      name: 'broken link',
      tamper: (sql) => {
        const { entry_b3: _old, ...rest } = entryAt(sql, 6);
        const forged = seal({ ...rest, prev_b3: 'b3:0' });
        sql.prepare('UPDATE registry_log SET entry = ? WHERE version = 6').run(JSON.stringify(forged));
      },
      want: /corrupt at version 6: prev_b3 does not match/,
    },
  ];
  for (const c of cases) {
    const db = join(dir.path, `corrupt-${c.name.replace(' ', '-')}`, 'registry.db');
    mkdirSync(dirname(db), { recursive: true });
    copyFileSync(base, db);
    const sql = new Database(db);
    sql.exec(
      'DROP TRIGGER registry_log_no_update; DROP TRIGGER registry_log_no_delete; DROP TRIGGER registry_log_append_only',
    );
    c.tamper(sql);
    sql.close();
    const r = await runProgram(BIN, [...ports, '--db', db], { env: baseEnv });
    assert.equal(r.code, 65, `${c.name}: ${r.stderr}`);
    assert.match(r.stderr, c.want, c.name);
    assert.match(r.stderr, /refusing to start/, c.name);
  }
});

test('SIGTERM on the real process: streams get a final event, an in-flight commit still completes, the store is closed, exit 0', async () => {
  const db = join(dir.path, 'sigterm', 'registry.db');
  const p = await spawnRegistry(db);
  for (let i = 1; i <= 3; i++) assert.equal((await commitAtHead(p.url, `b3:s${i}`)).status, 200);
  const stream = await sseConnect(`${p.url}/registry/stream?from=0`);
  await stream.next((e) => e.event === 'commit' && e.id === '3');
  await stream.next((e) => e.event === 'heartbeat');

  // An in-flight commit: headers sent with Expect: 100-continue, so the server's "100 Continue"
  // proves it has parsed them and the request is being served; the body is held back.
  const payload = 'b3:in-flight';
  const body = JSON.stringify({
    payload_b3: payload,
    signatures: [
      signBytes(key, signedBytes({ registry: 'default', op: 'commit', payload_b3: payload, version: 4 })),
    ],
  });
  const { port } = new URL(p.url);
  const sock = connect(Number(port), '127.0.0.1');
  let raw = '';
  const gotContinue = new Promise<void>((res) => {
    sock.on('data', (d: Buffer) => {
      raw += d.toString('latin1');
      if (raw.includes('100 Continue')) res();
    });
  });
  const closed = new Promise<void>((res) => sock.on('close', () => res()));
  sock.write(
    `POST /registry/commit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
  );
  await gotContinue;

  const exited = p.stop('SIGTERM');
  // The final stream event proves shutdown has begun (readiness off, listeners closing)…
  await stream.ended;
  const last = stream.events.at(-1);
  assert.equal(last?.event, 'shutdown');
  assert.deepEqual(JSON.parse(last.data), { head: 3 });
  // …and the request already in flight is still finished, not cut off.
  sock.write(body);
  await closed;
  assert.match(raw, /HTTP\/1\.1 200 OK/);
  assert.match(raw, /"version":4/);
  const { code } = await exited;
  assert.equal(code, 0);
  const lines = p.lines.map((l) => l.msg);
  assert.ok(lines.indexOf('shutting down: readiness off, draining in-flight work') >= 0);
  assert.ok(
    lines.indexOf('shutdown complete') >
      lines.indexOf('shutting down: readiness off, draining in-flight work'),
  );

  // The acknowledged in-flight commit is durable: a restart on the same file has it, chain intact.
  const p2 = await spawnRegistry(db);
  const head = (await (await fetch(`${p2.url}/registry/head`)).json()) as Head;
  assert.equal(head.version, 4);
  assert.equal(head.payload_b3, payload);
  assert.equal((await p2.stop('SIGTERM')).code, 0);
});
