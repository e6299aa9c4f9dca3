// svc-registry backup / restore with real processes (docs/runbook.md § Backups): a backup taken
// during a 16-connection commit storm restores to a valid store whose head is at least the head
// when the backup began, every entry verified; a corrupted snapshot is refused with the reason and
// nothing is replaced; an older snapshot is refused unless forced; a running store is never replaced.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram, spawnProgram, tempDir, type Program } from '@ron/testkit';
import { generateKeyFile, initChain, signBytes, signedBytes, type LogEntry } from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { type Head } from '../src/log-entry.js';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));
const dir = tempDir('ron-registry-backup-');
const started: Program[] = [];
after(async () => {
  for (const p of started) await p.stop('SIGKILL');
  dir.remove();
});

const key = generateKeyFile();
const env = { SIGNER_ALLOWLIST: key.signer_id, SIG_THRESHOLD: '1', LOG_LEVEL: 'warn' };

async function spawnRegistry(db: string): Promise<Program> {
  const p = await spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0', '--db', db],
    env: { ...env, LOG_LEVEL: 'info' },
  });
  started.push(p);
  return p;
}

async function head(url: string): Promise<Head> {
  return (await (await fetch(`${url}/registry/head`)).json()) as Head;
}

/** One commit at the current head + 1; a lost race (422/409) is retried by the caller. */
async function commitAtHead(url: string, payload: string): Promise<number | undefined> {
  const v = (await head(url)).version + 1;
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
  return res.status === 200 ? body.version : undefined;
}

async function fill(url: string, n: number, tag: string): Promise<void> {
  let done = 0;
  while (done < n) if ((await commitAtHead(url, `b3:${tag}${done}`)) !== undefined) done++;
}

async function verifyHistory(url: string): Promise<Head> {
  await initChain();
  const h = await head(url);
  const v = new ChainVerifier();
  for (let from = 1; from <= h.version; from += 1000) {
    const page = (await (await fetch(`${url}/registry/history?from=${from}&limit=1000`)).json()) as {
      entries: LogEntry[];
    };
    for (const e of page.entries) v.push(e);
  }
  assert.equal(v.version, h.version);
  assert.equal(v.prev, h.chain_b3);
  return h;
}

test('a backup taken during a 16-connection commit storm restores to a verified store with head ≥ the head at its start', async () => {
  const db = join(dir.path, 'storm', 'registry.db');
  const p = await spawnRegistry(db);
  const admin = String(p.ready.admin_url);
  await fill(p.url, 20, 'seed');
  let stop = false;
  let acked = 0;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) if ((await commitAtHead(p.url, `b3:s${w}-${i}`)) !== undefined) acked++;
  };
  const workers = Array.from({ length: 16 }, (_, w) => worker(w));
  while (acked < 10) await new Promise((r) => setTimeout(r, 5));
  const headAtStart = (await head(p.url)).version;
  const out = join(dir.path, 'storm-backup.db');
  const b = await runProgram(BIN, ['backup', '--admin', admin, '--out', out, '--json'], {
    timeoutMs: 60_000,
  });
  const ackedDuringBackup = acked;
  while (acked < ackedDuringBackup + 5) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await Promise.all(workers);
  assert.equal(b.code, 0, b.stderr);
  const manifest = JSON.parse(b.stdout) as { head: number; entries: number; chain_b3: string; b3: string };
  assert.ok(manifest.head >= headAtStart, `backup head ${manifest.head} < head when it began ${headAtStart}`);
  assert.equal(manifest.entries, manifest.head);
  assert.ok(existsSync(`${out}.manifest.json`));
  const finalHead = (await head(p.url)).version;
  assert.ok(finalHead > manifest.head, 'writes kept flowing during and after the backup');

  // Restore into a fresh path and serve it: every entry verifies, head is the snapshot's.
  const restored = join(dir.path, 'restored', 'registry.db');
  // Audited against another signer set, every entry fails its signature check: refused, nothing written.
  const other = generateKeyFile();
  const wrong = await runProgram(BIN, [
    'restore',
    '--from',
    out,
    '--db',
    restored,
    '--allow-signer',
    other.signer_id,
    '--sig-threshold',
    '1',
  ]);
  assert.equal(wrong.code, 65, wrong.stderr);
  assert.match(wrong.stderr, /version 1: signature audit/);
  assert.equal(existsSync(restored), false);
  const r = await runProgram(BIN, ['restore', '--from', out, '--db', restored], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `now holds head ${manifest.head} \\(${manifest.head} entries verified, every signature audited`,
    ),
  );
  const p2 = await spawnRegistry(restored);
  const h = await verifyHistory(p2.url);
  assert.equal(h.version, manifest.head);
  assert.equal(h.chain_b3, manifest.chain_b3);
  // The restored registry takes writes.
  assert.equal(await commitAtHead(p2.url, 'b3:after-restore'), manifest.head + 1);
  await p2.stop();

  // Restoring over the newer live store is refused (the store is in use: 69), and once stopped it is
  // refused as older (65) unless --force.
  const busy = await runProgram(BIN, ['restore', '--from', out, '--db', db]);
  assert.equal(busy.code, 69, busy.stderr);
  assert.match(busy.stderr, /in use by a running program/);
  await p.stop();
  const sizeBefore = statSync(db).size;
  const older = await runProgram(BIN, ['restore', '--from', out, '--db', db]);
  assert.equal(older.code, 65, older.stderr);
  assert.match(
    older.stderr,
    new RegExp(`snapshot's head ${manifest.head} is older than the store's head ${finalHead}.*--force`),
  );
  assert.equal(statSync(db).size, sizeBefore);
  const forced = await runProgram(BIN, ['restore', '--from', out, '--db', db, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  const p3 = await spawnRegistry(db);
  assert.equal((await verifyHistory(p3.url)).version, manifest.head);
  await p3.stop();
});

test('a corrupted snapshot (flipped byte, truncated file, tampered manifest) is refused with the reason; nothing is replaced', async () => {
  const db = join(dir.path, 'c', 'registry.db');
  const p = await spawnRegistry(db);
  await fill(p.url, 40, 'c');
  const good = join(dir.path, 'c-good.db');
  const b = await runProgram(BIN, ['backup', '--admin', String(p.ready.admin_url), '--out', good]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /backup ok: .* 40 entries verified, head 40/);
  // Never overwrites an existing backup.
  const again = await runProgram(BIN, ['backup', '--admin', String(p.ready.admin_url), '--out', good]);
  assert.equal(again.code, 64);
  await p.stop();
  const target = join(dir.path, 'c-target', 'registry.db');
  const cases: [string, (f: string) => void, RegExp][] = [
    [
      'flipped byte',
      (f) => {
        const buf = readFileSync(f);
        buf[buf.length - 100]! ^= 0xff;
        writeFileSync(f, buf);
      },
      /checksum .* does not match the manifest/,
    ],
    ['truncated', (f) => truncateSync(f, 4096), /checksum .* does not match the manifest/],
    ['manifest gone', (f) => writeFileSync(`${f}.manifest.json`, '{'), /manifest.json is not valid JSON/],
  ];
  for (const [name, damage, reason] of cases) {
    const f = join(dir.path, `c-${name.replace(/ /g, '-')}.db`);
    copyFileSync(good, f);
    copyFileSync(`${good}.manifest.json`, `${f}.manifest.json`);
    damage(f);
    const r = await runProgram(BIN, ['restore', '--from', f, '--db', target]);
    assert.equal(r.code, 65, `${name}: ${r.stderr}`);
    assert.match(r.stderr, reason, name);
    assert.equal(existsSync(target), false, `${name}: nothing may be written`);
  }
  // A flipped byte whose checksum was recomputed (an attacker or a bad disk plus a rewritten
  // manifest) is still caught by SQLite's integrity check or the chain verification.
  const sneaky = join(dir.path, 'c-sneaky.db');
  copyFileSync(good, sneaky);
  // Every copy of one entry's payload (a free page may hold a stale one), same length.
  const buf = readFileSync(sneaky);
  const needle = Buffer.from('"payload_b3":"b3:c17"');
  let hits = 0;
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) {
    buf[at + 18] = 'X'.charCodeAt(0);
    hits++;
  }
  assert.ok(hits > 0);
  writeFileSync(sneaky, buf);
  const m = JSON.parse(readFileSync(`${good}.manifest.json`, 'utf8')) as Record<string, unknown>;
  const { b3File } = await import('@ron/kernel/backup');
  m.b3 = await b3File(sneaky);
  writeFileSync(`${sneaky}.manifest.json`, JSON.stringify(m));
  const r = await runProgram(BIN, ['restore', '--from', sneaky, '--db', target]);
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /entry_b3 does not match|integrity check/);
  assert.equal(existsSync(target), false);
});

test('GET /backup is loopback-only and refuses an in-memory store', async () => {
  const p = await spawnProgram({
    bin: BIN,
    args: ['--dev', '--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'],
  });
  started.push(p);
  const res = await fetch(`${String(p.ready.admin_url)}/backup`);
  assert.equal(res.status, 409);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'Conflict');
  assert.match(body.error.message, /nothing to back up/);
  await p.stop();
});
