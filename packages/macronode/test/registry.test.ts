import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { signBytes, signedBytes, type KeyFile } from '@ron/registry';
import { tempDir } from '@ron/testkit';
import { startNode } from './helpers.js';

interface Head {
  version: number;
}

test('registry plane: signer key created on first run (0600, path in the ready line), writes signature-gated through the gateway, store and key survive a restart', async () => {
  const dir = tempDir('macronode-reg-');
  try {
    const n = await startNode({ dataDir: dir.path });
    const keyPath = join(dir.path, 'keys', 'signer.key');
    let headAfter: Head;
    try {
      const created = await n.prog.waitForLine((l) => l.event === 'signer_key_created');
      assert.equal(created.path, keyPath);
      assert.equal(created.threshold, 1);
      assert.equal(statSync(keyPath).mode & 0o777, 0o600);
      const planes = n.prog.ready.planes as Record<string, { signer_key: string; signer_id: string }>;
      assert.equal(planes.registry!.signer_key, keyPath);

      const head = await fetch(`${n.gateway}/registry/head`);
      assert.equal(head.status, 200);
      assert.equal(((await head.json()) as Head).version, 0);

      const payload_b3 = 'b3:hello-macronode';
      const unsigned = await fetch(`${n.gateway}/registry/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload_b3 }),
      });
      assert.equal(unsigned.status, 412);
      assert.equal(((await unsigned.json()) as { error: { code: string } }).error.code, 'NoQuorum');

      const key = JSON.parse(readFileSync(keyPath, 'utf8')) as KeyFile;
      assert.equal(key.signer_id, planes.registry!.signer_id);
      const sig = signBytes(key, signedBytes({ registry: 'default', op: 'commit', version: 1, payload_b3 }));
      const signed = await fetch(`${n.gateway}/registry/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload_b3, signatures: [sig] }),
      });
      assert.equal(signed.status, 200, await signed.clone().text());
      headAfter = (await signed.json()) as Head;
      assert.equal(headAfter.version, 1);
      assert.equal(((await (await fetch(`${n.gateway}/v1/registry/head`)).json()) as Head).version, 1);
    } finally {
      assert.equal((await n.stop()).code, 0);
    }

    // Second run on the same data dir: same key (not re-created), same log.
    const n2 = await startNode({ dataDir: dir.path });
    try {
      assert.equal(
        n2.prog.lines.some((l) => l.event === 'signer_key_created'),
        false,
      );
      const head = (await (await fetch(`${n2.gateway}/registry/head`)).json()) as Head;
      assert.equal(head.version, 1);
    } finally {
      await n2.stop();
    }
  } finally {
    dir.remove();
  }
});
