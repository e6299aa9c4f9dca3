// watch survives a registry restart without gaps or duplicates; verify names the first fault of a
// tampered log (served by a stand-in registry built from a real log).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, tempDir } from '@ron/testkit';
import { initChain, seal, type LogEntry } from '@ron/registry';
import { lines, ronctl, startRegistryBin } from './helpers.js';

function publishFile(cwd: string, name: string, id: string, version: number): void {
  writeFileSync(
    join(cwd, name),
    JSON.stringify({
      op: 'publish',
      descriptor: {
        id,
        kind: 'service',
        version,
        body: { region: 'eu-west-1', addr: `10.0.0.${version}:80` },
      },
    }),
  );
}

test('watch reconnects with Last-Event-ID across a registry restart and never prints a duplicate', async () => {
  const dir = tempDir('ronctl-watch-');
  const cwd = dir.path;
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  const port = await freePort();
  const db = join(cwd, 'registry.db');
  // Fixed port (and SQLite) so the watcher's URL and the log survive the restart.
  const startOnPort = (): ReturnType<typeof startRegistryBin> =>
    startRegistryBin([a], 1, ['--db', db, '--bind', `127.0.0.1:${port}`]);
  let reg = await startOnPort();
  const env = { RON_REGISTRY_URL: `http://127.0.0.1:${port}` };
  try {
    const watcher = ronctl(['registry', 'watch', '--from', '0', '--count', '4'], env, cwd, 90_000);
    for (const v of [1, 2]) {
      publishFile(cwd, `s${v}.json`, 'svc-w', v);
      assert.equal(
        (await ronctl(['registry', 'publish', '--file', `s${v}.json`, '--key', 'a.key'], env, cwd)).code,
        0,
      );
    }
    await reg.stop();
    reg = await startOnPort();
    for (const v of [3, 4]) {
      publishFile(cwd, `s${v}.json`, 'svc-w', v);
      const r = await ronctl(['registry', 'publish', '--file', `s${v}.json`, '--key', 'a.key'], env, cwd);
      assert.equal(r.code, 0, r.stderr);
    }
    const w = await watcher;
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(
      lines(w.stdout).map((l) => l.split('  ')[0]),
      ['v1', 'v2', 'v3', 'v4'],
    );
  } finally {
    await reg.stop();
    dir.remove();
  }
});

/** A stand-in registry serving a (possibly tampered) copy of a real log. */
async function serveLog(entries: LogEntry[], signers: unknown): Promise<{ url: string; server: Server }> {
  const last = entries.at(-1)!;
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const send = (b: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    if (u.pathname === '/registry/head')
      return send({
        version: last.version,
        payload_b3: last.payload_b3,
        committed_at: last.committed_at,
        chain_b3: last.entry_b3,
      });
    if (u.pathname === '/v1/registry/signers') return send(signers);
    if (u.pathname === '/registry/history') {
      const from = Number(u.searchParams.get('from') ?? '1');
      return send({
        head: last.version,
        floor: 1,
        entries: entries.filter((e) => e.version >= from),
        next: null,
      });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, server };
}

test('verify prints the first fault of a tampered log: edited body, re-sealed chain, foreign signer, rollback', async () => {
  await initChain();
  const dir = tempDir('ronctl-verify-');
  const cwd = dir.path;
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  const reg = await startRegistryBin([a], 1);
  let real: LogEntry[];
  let signers: unknown;
  try {
    const env = { RON_REGISTRY_URL: reg.url };
    for (const v of [1, 2, 3]) {
      publishFile(cwd, `s${v}.json`, 'svc-v', v);
      assert.equal(
        (await ronctl(['registry', 'publish', '--file', `s${v}.json`, '--key', 'a.key'], env, cwd)).code,
        0,
      );
    }
    real = (
      (await (await fetch(`${reg.url}/registry/history?from=1&limit=1000`)).json()) as { entries: LogEntry[] }
    ).entries;
    signers = await (await fetch(`${reg.url}/v1/registry/signers`)).json();
  } finally {
    await reg.stop();
  }
  const reseal = (es: LogEntry[]): LogEntry[] => {
    const out: LogEntry[] = [];
    for (const e of es) {
      const { entry_b3: _x, ...rest } = e;
      out.push(seal({ ...rest, prev_b3: out.at(-1)?.entry_b3 ?? 'b3:0' }));
    }
    return out;
  };
  const clone = (): LogEntry[] => JSON.parse(JSON.stringify(real)) as LogEntry[];
  const cases: [string, LogEntry[], RegExp][] = [];
  {
    const t = clone();
    (t[1]!.body as { body: { addr: string } }).body.addr = '6.6.6.6:80';
    cases.push(['edited body, chain left alone', t, /FAULT at version 2: entry_b3 does not match/]);
  }
  {
    const t = clone();
    (t[1]!.body as { body: { addr: string } }).body.addr = '6.6.6.6:80';
    cases.push([
      'edited body, chain re-sealed by the attacker',
      reseal(t),
      /FAULT at version 2: payload_b3 is not the BLAKE3/,
    ]);
  }
  {
    const t = clone();
    const { b3, canonicalJson } = await import('@ron/registry');
    (t[2]!.body as { body: { addr: string } }).body.addr = '6.6.6.6:80';
    t[2]!.payload_b3 = b3(canonicalJson(t[2]!.body));
    cases.push([
      'edited body with matching payload hash, re-sealed',
      reseal(t),
      /FAULT at version 3: .*does not verify/,
    ]);
  }
  {
    const t = clone();
    t[0]!.signatures = [
      { ...t[0]!.signatures[0]!, signer_id: 'ed25519:zBNcebJPkVPAhBcD336pTwPcH8yxU7j6DY81dWapNDU' },
    ];
    cases.push([
      'signature swapped to a foreign signer, re-sealed',
      reseal(t),
      /FAULT at version 1: .*not on the allow-list/,
    ]);
  }
  {
    const t = clone();
    // Rollback: replay version 1 of the descriptor as the third entry.
    const e1 = t[0]!;
    t[2] = { ...e1, version: 3 };
    cases.push([
      'descriptor rollback, re-sealed',
      reseal(t),
      /FAULT at version 3: descriptor svc-v version 1 does not follow 2/,
    ]);
  }
  try {
    const ok = await serveLog(real, signers);
    try {
      const r = await ronctl(['registry', 'verify', '--signer', a], { RON_REGISTRY_URL: ok.url }, cwd);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      ok.server.close();
    }
    for (const [why, entries, want] of cases) {
      const s = await serveLog(entries, signers);
      try {
        const r = await ronctl(['registry', 'verify', '--signer', a], { RON_REGISTRY_URL: s.url }, cwd);
        assert.equal(r.code, 1, why);
        assert.match(r.stdout, want, why);
      } finally {
        s.server.close();
      }
    }
  } finally {
    dir.remove();
  }
});
