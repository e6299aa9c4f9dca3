// ronctl end to end against the real svc-registry bin: keygen → propose → approve → apply → get →
// watch → rotate → publish → verify, all through the real ronctl bin.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '@ron/testkit';
import { signBytes, signedBytes, type KeyFile } from '@ron/registry';
import { lines, ronctl, startRegistryBin } from './helpers.js';

test('keygen → propose → approve → apply → get → watch → rotate → publish → verify', async () => {
  const dir = tempDir('ronctl-e2e-');
  const cwd = dir.path;
  const idOf = async (name: string): Promise<string> => {
    const r = await ronctl(['keygen', '--out', `${name}.key`], {}, cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^ed25519:[A-Za-z0-9_-]{43}$/);
    return r.stdout.trim();
  };
  const [a, b, c, d] = [await idOf('a'), await idOf('b'), await idOf('c'), await idOf('d')];
  // Never overwrites a key.
  const again = await ronctl(['keygen', '--out', 'a.key'], {}, cwd);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /refusing to overwrite/);

  const reg = await startRegistryBin([a, b], 2);
  try {
    const env = { RON_REGISTRY_URL: reg.url };
    const watcher = ronctl(['--json', 'registry', 'watch', '--from', '0', '--count', '3'], env, cwd, 180_000);

    writeFileSync(
      join(cwd, 'svc.json'),
      JSON.stringify({
        op: 'publish',
        descriptor: {
          id: 'svc-storage@us-east-1',
          kind: 'service',
          version: 1,
          body: { region: 'us-east-1', addr: '10.0.0.5:9000', tls: true, weight: 3 },
        },
      }),
    );
    const p = await ronctl(
      ['--json', 'registry', 'propose', '--file', 'svc.json', '--key', 'a.key'],
      env,
      cwd,
    );
    assert.equal(p.code, 0, p.stderr);
    const prop = JSON.parse(p.stdout) as { proposal_id: string; have: number; need: number };
    assert.deepEqual([prop.have, prop.need], [1, 2]);

    const early = await ronctl(['registry', 'apply', prop.proposal_id], env, cwd);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /NoQuorum/);
    assert.match(early.stderr, /hint: .*approve/);

    const ap = await ronctl(['registry', 'approve', prop.proposal_id, '--key', 'b.key'], env, cwd);
    assert.equal(ap.code, 0, ap.stderr);
    assert.match(ap.stdout, /2\/2 signatures/);
    const applied = await ronctl(['--json', 'registry', 'apply', prop.proposal_id], env, cwd);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { version: number }).version, 1);
    const again2 = await ronctl(['--json', 'registry', 'apply', prop.proposal_id], env, cwd);
    assert.equal(again2.stdout, applied.stdout); // idempotent

    const got = await ronctl(['registry', 'get', 'svc-storage@us-east-1'], env, cwd);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /svc-storage@us-east-1 {2}service {2}v1 {2}published/);
    const head = await ronctl(['--json', 'registry', 'head'], env, cwd);
    assert.equal((JSON.parse(head.stdout) as { version: number }).version, 1);

    // Rotate {a,b} (2) → {c,d} (2): needs both sets.
    const rot = { op: 'signers', version: 2, signers: { signers: [c, d].sort(), threshold: 2 } };
    writeFileSync(join(cwd, 'rotate.json'), JSON.stringify(rot));
    const onlyOld = await ronctl(
      ['registry', 'publish', '--file', 'rotate.json', '--key', 'a.key', '--key', 'b.key'],
      env,
      cwd,
    );
    assert.equal(onlyOld.code, 1);
    const r2 = await ronctl(
      [
        'registry',
        'publish',
        '--file',
        'rotate.json',
        '--key',
        'a.key',
        '--key',
        'b.key',
        '--key',
        'c.key',
        '--key',
        'd.key',
      ],
      env,
      cwd,
    );
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /applied signers \(version 2\) at log version 2/);

    // The old keys can no longer publish; the new ones can.
    writeFileSync(
      join(cwd, 'svc2.json'),
      JSON.stringify({
        op: 'publish',
        descriptor: {
          id: 'svc-storage@us-east-1',
          kind: 'service',
          version: 2,
          body: { region: 'us-east-1', addr: '10.0.0.6:9000' },
        },
      }),
    );
    const stale = await ronctl(
      ['registry', 'publish', '--file', 'svc2.json', '--key', 'a.key', '--key', 'b.key'],
      env,
      cwd,
    );
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /BadSignature/);
    const pub = await ronctl(
      ['registry', 'publish', '--file', 'svc2.json', '--key', 'c.key', '--key', 'd.key'],
      env,
      cwd,
    );
    assert.equal(pub.code, 0, pub.stderr);

    // An opaque commit shares the log: after the rotation it must be signed by the new set.
    const key = (n: string): KeyFile => JSON.parse(readFileSync(join(cwd, `${n}.key`), 'utf8')) as KeyFile;
    const commit = async (names: string[]): Promise<number> => {
      const version =
        (JSON.parse((await ronctl(['--json', 'registry', 'head'], env, cwd)).stdout) as { version: number })
          .version + 1;
      const bytes = signedBytes({ registry: 'default', op: 'commit', payload_b3: 'b3:SGVsbG8=', version });
      const res = await fetch(`${reg.url}/registry/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          payload_b3: 'b3:SGVsbG8=',
          signatures: names.map((n) => signBytes(key(n), bytes)),
        }),
      });
      await res.text();
      return res.status;
    };
    assert.equal(await commit(['a', 'b']), 422);
    assert.equal(await commit(['c', 'd']), 200);

    // The watcher saw exactly versions 1, 2, 3 in order.
    const w = await watcher;
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(
      lines(w.stdout).map((l) => (JSON.parse(l) as { version: number }).version),
      [1, 2, 3],
    );

    // Verify the whole log, with the genesis set pinned and as reported.
    const v1 = await ronctl(['registry', 'verify', '--signer', `${a},${b}`, '--threshold', '2'], env, cwd);
    assert.equal(v1.code, 0, v1.stderr);
    assert.match(v1.stdout, /^ok: 4 entries verified up to head 4; chain b3:[0-9a-f]{64}; 2 signer set\(s\)/);
    const v2 = await ronctl(['--json', 'registry', 'verify'], env, cwd);
    assert.equal((JSON.parse(v2.stdout) as { ok: boolean }).ok, true);
    // A wrong trust anchor or registry id is a fault at the first entry.
    const v3 = await ronctl(['registry', 'verify', '--signer', c, '--threshold', '1'], env, cwd);
    assert.equal(v3.code, 1);
    assert.match(v3.stdout, /^FAULT at version 1: /);
    const v4 = await ronctl(['--registry-id', 'elsewhere', 'registry', 'verify'], env, cwd);
    assert.equal(v4.code, 1);
    assert.match(v4.stderr, /registry-id/);
  } finally {
    await reg.stop();
    dir.remove();
  }
});

test('sign prints a signature the registry accepts; --bytes prints the exact signed text', async () => {
  const dir = tempDir('ronctl-sign-');
  const cwd = dir.path;
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  const reg = await startRegistryBin([a], 1);
  try {
    const env = { RON_REGISTRY_URL: reg.url };
    const desc = {
      id: 'node-7@eu-west-1',
      kind: 'node',
      version: 1,
      body: { region: 'eu-west-1', addr: '[2001:db8::1]:7000', labels: { zone: 'b' } },
    };
    writeFileSync(join(cwd, 'p.json'), JSON.stringify({ op: 'publish', descriptor: desc }));
    const bytes = await ronctl(['sign', '--key', 'a.key', '--bytes', 'p.json'], {}, cwd);
    assert.equal(
      bytes.stdout.trim(),
      '{"descriptor":{"body":{"addr":"[2001:db8::1]:7000","labels":{"zone":"b"},"region":"eu-west-1"},"id":"node-7@eu-west-1","kind":"node","version":1},"domain":"ron-registry/v1","op":"publish","registry":"default","version":1}',
    );
    const s = await ronctl(['sign', '--key', 'a.key', 'p.json'], {}, cwd);
    assert.equal(s.code, 0, s.stderr);
    const sig = JSON.parse(s.stdout) as { signer_id: string };
    assert.equal(sig.signer_id, a);
    writeFileSync(
      join(cwd, 'signed.json'),
      JSON.stringify({ op: 'publish', descriptor: desc, signatures: [sig] }),
    );
    const pub = await ronctl(['registry', 'propose', '--file', 'signed.json'], env, cwd);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /1\/1 signatures \(ready\)/);
  } finally {
    await reg.stop();
    dir.remove();
  }
});
