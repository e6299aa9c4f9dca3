#!/usr/bin/env node
// svc-registry background audit (SPEC §2.5, issue 9 #20): time for the worker-thread audit to check
// every entry's Ed25519 signature against the signer set in force, over a 50 000-entry SQLite log.
// Called by benchmarks/registry.mjs; standalone it prints the number:
//   npx tsc -b && node benchmarks/registry-audit.mjs [entries]
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { scratchDir } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds an n-entry log of signed commits (one signer, threshold 1) in a SQLite file, then times
 * LogAudit over it `rounds` times. Returns { ms: median, entries, perEntryUs }.
 */
export async function measureAudit(n = 50_000, rounds = 3) {
  const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
  await reg.initChain();
  const key = reg.generateKeyFile();
  const d = scratchDir('audit');
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  const path = join(d, 'audit.db');
  await new reg.SqliteStore(path).close();
  const db = new Database(path);
  const ins = db.prepare('INSERT INTO registry_log (version, op, entry) VALUES (?, ?, ?)');
  db.transaction(() => {
    let prev = 'b3:0';
    for (let v = 1; v <= n; v++) {
      const payload_b3 = `b3:audit${v}`;
      const sig = reg.signBytes(
        key,
        reg.signedBytes({ registry: 'default', op: 'commit', payload_b3, version: v }),
      );
      const e = reg.seal({
        version: v,
        op: 'commit',
        payload_b3,
        prev_b3: prev,
        committed_at: new Date().toISOString(),
        signatures: [sig],
      });
      prev = e.entry_b3;
      ins.run(v, 'commit', reg.canonicalJson(e));
    }
  })();
  db.close();
  const genesis = reg.initialSignerSet([key.signer_id], 1);
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const store = new reg.SqliteStore(path);
    const t0 = performance.now();
    const status = await new reg.LogAudit({ store, registryId: 'default', genesis, upTo: n }).done;
    times.push(performance.now() - t0);
    await store.close();
    if (status.state !== 'ok' || status.checked !== n)
      throw new Error(`audit did not pass: ${JSON.stringify(status)}`);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  return { ms, entries: n, perEntryUs: (ms * 1000) / n };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? 50_000);
  const r = await measureAudit(n);
  process.stdout.write(
    `registry background audit of ${r.entries} entries (SQLite, 1 Ed25519 signature each, worker thread): ${r.ms.toFixed(0)} ms (${r.perEntryUs.toFixed(1)} µs/entry)\n`,
  );
}
