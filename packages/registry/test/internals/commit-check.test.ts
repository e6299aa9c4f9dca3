// Verifying less per commit must not accept more: public keys are cached per signer id and the
// reorder window does not verify a signature twice, yet the signer set in force decides.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { join } from 'node:path';
import { tempDir } from '@ron/testkit';
import {
  Registry,
  SqliteStore,
  generateKeyFile,
  initChain,
  signBytes,
  signedBytes,
  type KeyFile,
} from '../../src/index.js';
import { ApiError } from '@ron/kernel';

await initChain();
const dir = tempDir('ron-registry-commit-check-');
after(() => dir.remove());

const sig = (k: KeyFile, payload_b3: string, version: number): ReturnType<typeof signBytes> =>
  signBytes(k, signedBytes({ registry: 'default', op: 'commit', payload_b3, version }));
const code = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof ApiError ? err.code : String(err);
  }
};

test('a signer removed by rotation is refused though its key is cached, at head + 1 and ahead of it', async () => {
  const a = generateKeyFile();
  const b = generateKeyFile();
  const { registry } = await Registry.open(new SqliteStore(join(dir.path, 'rot.db')), {
    registryId: 'default',
    signers: [a.signer_id, b.signer_id],
    threshold: 1,
    reorder: { windowMs: 2000, depth: 8 },
  });
  // a's public key is now cached (verified once).
  assert.equal(await code(registry.commit({ payload_b3: 'b3:a1', signatures: [sig(a, 'b3:a1', 1)] })), 'ok');
  registry.useSigners([b.signer_id], 1);
  assert.equal(
    await code(registry.commit({ payload_b3: 'b3:a2', signatures: [sig(a, 'b3:a2', 2)] })),
    'BadSignature',
  );
  // Signed for a version ahead: refused at once, never waits.
  assert.equal(
    await code(registry.commit({ payload_b3: 'b3:a3', signatures: [sig(a, 'b3:a3', 3)] })),
    'BadSignature',
  );
  // b signs v3 first (waits in the window, its signature verified once there), then v2.
  const ahead = registry.commit({ payload_b3: 'b3:b3', signatures: [sig(b, 'b3:b3', 3)] });
  assert.equal(await code(registry.commit({ payload_b3: 'b3:b2', signatures: [sig(b, 'b3:b2', 2)] })), 'ok');
  assert.equal(await code(ahead), 'ok');
  assert.equal(registry.head.version, 3);
  await registry.store.close();
});

test('a commit placed ahead by its first signature still has every other signature verified', async () => {
  const a = generateKeyFile();
  const b = generateKeyFile();
  const { registry } = await Registry.open(new SqliteStore(join(dir.path, 'two.db')), {
    registryId: 'default',
    signers: [a.signer_id, b.signer_id],
    threshold: 2,
    reorder: { windowMs: 2000, depth: 8 },
  });
  const both = (p: string, v: number, bad = false): ReturnType<typeof sig>[] => [
    sig(a, p, v),
    bad ? { ...sig(b, p, v + 1) } : sig(b, p, v),
  ];
  // Ahead (v2 while head is 0): a's signature verifies at 2, b's is over version 3: refused.
  assert.equal(
    await code(registry.commit({ payload_b3: 'b3:x2', signatures: both('b3:x2', 2, true) })),
    'BadSignature',
  );
  const ahead = registry.commit({ payload_b3: 'b3:y2', signatures: both('b3:y2', 2) });
  assert.equal(await code(registry.commit({ payload_b3: 'b3:y1', signatures: both('b3:y1', 1) })), 'ok');
  assert.equal(await code(ahead), 'ok');
  assert.equal(registry.head.version, 2);
  await registry.store.close();
});
