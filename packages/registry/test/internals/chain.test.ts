// Sealing encodes an entry once (sealWithText): the text it hands the store must be the JCS text of
// the sealed entry, and its entry_b3 the hash entryHash computes from the entry alone.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { join } from 'node:path';
import fc from 'fast-check';
import { tempDir } from '@ron/testkit';
import { canonicalJson } from '../../src/canonical.js';
import {
  ChainVerifier,
  entryHash,
  initChain,
  seal,
  sealWithText,
  storedTextMatches,
} from '../../src/chain.js';
import { LOG_OPS, type UnhashedEntry } from '../../src/log-entry.js';
import { Registry, SqliteStore, generateKeyFile, signBytes, signedBytes } from '../../src/index.js';

await initChain();
const dir = tempDir('ron-registry-chain-');
after(() => dir.remove());

// JSON values as the strict parser could hand them over (no undefined inside, safe integers).
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const sig = fc.record({
  signer_id: fc.string(),
  alg: fc.constant('ed25519' as const),
  sig: fc.string(),
});
const unhashed: fc.Arbitrary<UnhashedEntry> = fc
  .record(
    {
      version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      op: fc.constantFrom(...LOG_OPS),
      descriptor_id: fc.string({ unit: 'binary' }),
      payload_b3: fc.string({ unit: 'binary' }),
      body: json,
      prev_b3: fc.string({ unit: 'binary' }),
      committed_at: fc.string(),
      signatures: fc.array(sig, { maxLength: 4 }),
    },
    { requiredKeys: ['version', 'op', 'payload_b3', 'prev_b3', 'committed_at', 'signatures'] },
  )
  .map((e) => e);

test('sealWithText: the text is the JCS of the sealed entry and entry_b3 is entryHash of it', () => {
  fc.assert(
    fc.property(unhashed, (e) => {
      const { entry, text } = sealWithText(e);
      assert.equal(text, canonicalJson(entry));
      assert.equal(entry.entry_b3, entryHash(entry));
      assert.equal(entry.entry_b3, entryHash(e));
      assert.deepEqual(seal(e), entry);
      assert.equal(storedTextMatches(entry, text), true);
    }),
    { numRuns: 1000 },
  );
});

test('sealWithText: members only before or only after entry_b3, and undefined members, encode as JCS', () => {
  const only = (e: Record<string, unknown>): void => {
    const { entry, text } = sealWithText(e as unknown as UnhashedEntry);
    assert.equal(text, canonicalJson(entry));
  };
  only({ prev_b3: 'b3:0', version: 1 });
  only({ committed_at: 'x', body: { a: 1 }, prev_b3: 'b3:0' });
  only({ prev_b3: 'b3:0' });
  only({ prev_b3: 'b3:0', body: undefined, descriptor_id: undefined, version: 2 });
});

test('a SQLite store keeps, byte for byte, the canonical encoding of every entry the registry sealed', async () => {
  const key = generateKeyFile();
  const path = join(dir.path, 'r.db');
  const { registry } = await Registry.open(new SqliteStore(path), {
    registryId: 'default',
    signers: [key.signer_id],
    threshold: 1,
  });
  // Pipelined: these share a group commit, each sealed on the one before.
  await Promise.all(
    [1, 2, 3, 4].map((version) => {
      const payload_b3 = `b3:t${version}`;
      const s = signBytes(key, signedBytes({ registry: 'default', op: 'commit', payload_b3, version }));
      return registry.commit({ payload_b3, signatures: [s] });
    }),
  );
  await registry.appendGoverned({
    op: 'publish',
    descriptor_id: 'svc-a',
    payload_b3: 'b3:d',
    body: { id: 'svc-a', kind: 'service', version: 1, body: { region: 'r', addr: 'a:1', z: [1, 'é'] } },
    signatures: [],
  });
  await registry.store.close();
  const store = new SqliteStore(path);
  const rows = await store.rangeStored(0, 100);
  assert.equal(rows.length, 5);
  const v = new ChainVerifier();
  for (const { entry, text } of rows) {
    assert.equal(text, canonicalJson(entry));
    v.push(entry);
  }
  await store.close();
});
