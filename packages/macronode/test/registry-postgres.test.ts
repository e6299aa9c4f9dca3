// macronode's registry plane on a shared PostgreSQL (registry.db = postgres://…): two nodes are two
// replicas of one registry, and `macronode doctor` checks the connection.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signBytes, signedBytes, type KeyFile } from '@ron/registry';
import { runProgram, startPostgres, tempDir, waitFor, type PgCluster } from '@ron/testkit';
import { BIN, startNode } from './helpers.js';

let cluster: PgCluster;
const dir = tempDir('macronode-regpg-');
before(async () => {
  cluster = await startPostgres();
});
after(() => {
  cluster?.destroy();
  dir.remove();
});

interface Head {
  version: number;
}

test('two macronodes with registry.db = postgres:// are replicas of one registry: a commit through one is read on the other', async () => {
  const url = await cluster.database('plane');
  // One signer key for both nodes (the allow-list is per node: the same signer on each).
  const keyPath = join(dir.path, 'signer.key');
  const env = { RON_REGISTRY__DB: url, RON_REGISTRY__SIGNER_KEY: keyPath, RON_SERVICES: 'registry' };
  const a = await startNode({ env });
  const b = await startNode({ env });
  try {
    const planes = a.prog.ready.planes as Record<string, { store: string }>;
    assert.match(planes.registry!.store, /^postgres:\/\//);
    const key = JSON.parse(readFileSync(keyPath, 'utf8')) as KeyFile;
    const payload_b3 = 'b3:through-a';
    const sig = signBytes(key, signedBytes({ registry: 'default', op: 'commit', version: 1, payload_b3 }));
    const res = await fetch(`${a.gateway}/registry/commit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload_b3, signatures: [sig] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await waitFor(
      async () => ((await (await fetch(`${b.gateway}/registry/head`)).json()) as Head).version === 1,
      15_000,
    );
    const e = (await (await fetch(`${b.gateway}/registry/1`)).json()) as { payload_b3: string };
    assert.equal(e.payload_b3, payload_b3);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('doctor checks the registry PostgreSQL connection: ok when it answers, fail naming the URL (no password) when it does not', async () => {
  const url = await cluster.database('doctor');
  const args = [
    'doctor',
    '--data-dir',
    join(dir.path, 'd'),
    '--http-addr',
    '127.0.0.1:0',
    '--gateway-addr',
    '127.0.0.1:0',
  ];
  const env = { RON_CONFIG: undefined, RON_ADMIN_TOKEN: undefined, RON_SERVICES: 'registry' };
  const ok = await runProgram(BIN, args, { env: { ...env, RON_REGISTRY__DB: url } });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ok\s+registry store: postgres:\/\/.*answers \(PostgreSQL /m);
  // A port nothing listens on (the cluster's port + 1 is not ours to assume free: use port 1).
  const bad = await runProgram(BIN, args, {
    env: { ...env, RON_REGISTRY__DB: 'postgres://ron:secret@127.0.0.1:1/nothing' },
  });
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stdout, /^fail registry store: postgres:\/\/ron:\*\*\*@127\.0\.0\.1:1\/nothing: /m);
  assert.ok(!bad.stdout.includes('secret'));
});
