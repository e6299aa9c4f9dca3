// ronctl's other surfaces through the real bin: capabilities end to end, status as a table,
// and failures that exit non-zero with a message saying what to do next.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, tempDir } from '@ron/testkit';
import { generateRootKey } from '@ron/registry';
import { ronctl, startRegistryBin } from './helpers.js';

test('cap mint: tokens gate governance writes by scope; missing token → 401 with a hint', async () => {
  const dir = tempDir('ronctl-cap-');
  const cwd = dir.path;
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  assert.equal(statSync(join(cwd, 'a.key')).mode & 0o777, 0o600);
  writeFileSync(join(cwd, 'cap.key'), generateRootKey(), { mode: 0o600 });
  const reg = await startRegistryBin([a], 1, ['--capability-key', join(cwd, 'cap.key')]);
  try {
    const env = { RON_REGISTRY_URL: reg.url };
    writeFileSync(
      join(cwd, 'p.json'),
      JSON.stringify({
        op: 'publish',
        descriptor: { id: 'svc-cap', kind: 'service', version: 1, body: { region: 'eu', addr: 'h:1' } },
      }),
    );
    const none = await ronctl(['registry', 'publish', '--file', 'p.json', '--key', 'a.key'], env, cwd);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Unauthorized/);
    assert.match(none.stderr, /hint: .*cap mint/);
    const mint = async (...scopes: string[]): Promise<string> => {
      const r = await ronctl(
        [
          '--json',
          'cap',
          'mint',
          '--root-key',
          'cap.key',
          ...scopes.flatMap((s) => ['--scope', s]),
          '--expires',
          '10m',
        ],
        {},
        cwd,
      );
      assert.equal(r.code, 0, r.stderr);
      const o = JSON.parse(r.stdout) as { token: string; expires_at: string };
      assert.ok(Date.parse(o.expires_at) > Date.now());
      return o.token;
    };
    const proposeOnly = await mint('registry:propose');
    const wrong = await ronctl(
      ['--token', proposeOnly, 'registry', 'publish', '--file', 'p.json', '--key', 'a.key'],
      env,
      cwd,
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Forbidden/); // proposal accepted, apply refused for scope
    const both = await mint('registry:propose,registry:apply');
    const ok = await ronctl(
      ['registry', 'publish', '--file', 'p.json', '--key', 'a.key'],
      { ...env, RON_REGISTRY_TOKEN: both },
      cwd,
    );
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await ronctl(['cap', 'mint', '--root-key', 'cap.key', '--scope', 'registry:root'], {}, cwd);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown scope/);
  } finally {
    await reg.stop();
    dir.remove();
  }
});

test('status renders macronode /api/v1/status as a table; --json passes it through', async () => {
  const body = {
    uptime_seconds: 12,
    profile: 'macronode',
    ready: true,
    services: {
      gateway: { state: 'running', pid: 101, restarts: 0, uptime_seconds: 12.4, last_error: null },
      registry: { state: 'failed', pid: null, restarts: 5, uptime_seconds: null, last_error: 'exit 1' },
    },
  };
  const server = createServer((req, res) => {
    if (req.url === '/api/v1/status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const admin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const r = await ronctl(['status', '--admin', admin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^profile {10}macronode$/m);
    assert.match(r.stdout, /^PLANE +STATE +PID +RESTARTS +UPTIME +LAST ERROR$/m);
    assert.match(r.stdout, /^gateway +running +101 +0 +12s +-$/m);
    assert.match(r.stdout, /^registry +failed +- +5 +- +exit 1$/m);
    const j = await ronctl(['--json', 'status'], { RON_ADMIN_URL: admin });
    assert.deepEqual(JSON.parse(j.stdout), body);
  } finally {
    server.close();
  }
});

test('failures exit non-zero and say what to do next', async () => {
  const dir = tempDir('ronctl-err-');
  const cwd = dir.path;
  try {
    const port = await freePort();
    const down = await ronctl(['registry', 'head'], { RON_REGISTRY_URL: `http://127.0.0.1:${port}` }, cwd);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+/);
    assert.match(down.stderr, /hint: .*RON_REGISTRY_URL/);
    const noKey = await ronctl(['sign', '--key', 'missing.key', 'p.json'], {}, cwd);
    assert.equal(noKey.code, 1);
    writeFileSync(join(cwd, 'junk.key'), '{"alg":"rsa"}');
    writeFileSync(
      join(cwd, 'p.json'),
      JSON.stringify({
        op: 'publish',
        descriptor: { id: 'x', kind: 'service', version: 1, body: { region: 'eu', addr: 'h:1', extra: 1 } },
      }),
    );
    const badProposal = await ronctl(['sign', '--key', 'junk.key', 'p.json'], {}, cwd);
    assert.equal(badProposal.code, 1);
    assert.match(badProposal.stderr, /unknown field "extra"/);
    writeFileSync(
      join(cwd, 'p.json'),
      JSON.stringify({
        op: 'publish',
        descriptor: { id: 'x', kind: 'service', version: 1, body: { region: 'eu', addr: 'h:1' } },
      }),
    );
    const badKey = await ronctl(['sign', '--key', 'junk.key', 'p.json'], {}, cwd);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /hint: create one with: ronctl keygen/);
    writeFileSync(join(cwd, 'dup.json'), '{"op":"publish","op":"deprecate"}');
    const dup = await ronctl(['sign', '--key', 'junk.key', 'dup.json'], {}, cwd);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /duplicate key/);
    const usage = await ronctl(['registry', 'frobnicate'], {}, cwd);
    assert.notEqual(usage.code, 0);
  } finally {
    dir.remove();
  }
});
