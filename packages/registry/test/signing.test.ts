import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  canonicalJson,
  checkQuorum,
  generateKeyFile,
  privateKeyFromSeed,
  publicKeyFromSignerId,
  signBytes,
  signedBytes,
  signerIdFromPublicKey,
  verifySignature,
  type Signature,
  type SignedFields,
} from '../src/index.js';
import { parseStrictJson } from '../src/canonical.js';
import { createPublicKey } from 'node:crypto';

interface Vectors {
  signers: { signer_id: string; seed_b64u: string }[];
  cases: { message: Record<string, unknown>; jcs: string; signatures: Signature[] }[];
  negative: { message: Record<string, unknown>; signature: Signature }[];
}
const V = JSON.parse(
  readFileSync(new URL('../../test/fixtures/registry-signing.json', import.meta.url), 'utf8'),
) as Vectors;

function fields(m: Record<string, unknown>): SignedFields {
  const { domain, ...rest } = m;
  assert.equal(domain, 'ron-registry/v1');
  return rest as unknown as SignedFields;
}

test('vectors: canonical text matches the independent implementation byte for byte', () => {
  for (const c of V.cases) {
    assert.equal(canonicalJson(c.message), c.jcs);
    assert.equal(signedBytes(fields(c.message)).toString('utf8'), c.jcs);
  }
});

test('vectors: every signature verifies and every signer reaches quorum', () => {
  const allow = new Set(V.signers.map((s) => s.signer_id));
  for (const c of V.cases) {
    const bytes = signedBytes(fields(c.message));
    for (const s of c.signatures) assert.equal(verifySignature(s, bytes), true, `${s.signer_id} on ${c.jcs}`);
    const q = checkQuorum(c.signatures, bytes, allow, 3);
    assert.equal(q.error, undefined);
    assert.equal(q.have, 3);
  }
});

test('vectors: the replayed signature is rejected', () => {
  const allow = new Set(V.signers.map((s) => s.signer_id));
  for (const n of V.negative) {
    const bytes = signedBytes(fields(n.message));
    assert.equal(verifySignature(n.signature, bytes), false);
    assert.equal(checkQuorum([n.signature], bytes, allow, 1).error?.code, 'BadSignature');
  }
});

test('vectors: seeds derive the published signer ids, and our signatures match theirs (Ed25519 is deterministic)', () => {
  for (const s of V.signers) {
    const priv = privateKeyFromSeed(s.seed_b64u);
    const x = Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x ?? '', 'base64url');
    assert.equal(signerIdFromPublicKey(x), s.signer_id);
    assert.ok(publicKeyFromSignerId(s.signer_id));
  }
  const c = V.cases[0]!;
  for (const [i, s] of V.signers.entries()) {
    const mine = signBytes({ alg: 'ed25519', signer_id: s.signer_id, seed: s.seed_b64u }, Buffer.from(c.jcs));
    assert.deepEqual(mine, c.signatures[i]);
  }
});

test('generated keys sign and verify; tampering with any field fails', () => {
  const k = generateKeyFile();
  assert.match(k.signer_id, /^ed25519:[A-Za-z0-9_-]{43}$/);
  const f: SignedFields = { registry: 'default', op: 'commit', payload_b3: 'b3:abc', version: 7 };
  const s = signBytes(k, signedBytes(f));
  assert.equal(verifySignature(s, signedBytes(f)), true);
  assert.equal(verifySignature(s, signedBytes({ ...f, version: 8 })), false);
  assert.equal(verifySignature(s, signedBytes({ ...f, registry: 'other' })), false);
  assert.equal(verifySignature(s, signedBytes({ ...f, op: 'publish' })), false);
  assert.equal(verifySignature(s, signedBytes({ ...f, payload_b3: 'b3:abd' })), false);
});

test('malformed signatures and signer ids are rejected, never thrown', () => {
  const k = generateKeyFile();
  const bytes = signedBytes({ registry: 'r', op: 'commit', payload_b3: 'b3:x', version: 1 });
  const good = signBytes(k, bytes);
  const bad: unknown[] = [
    { ...good, alg: 'rsa' },
    { ...good, sig: good.sig + 'A' },
    { ...good, sig: good.sig.slice(0, -2) },
    { ...good, sig: '!!!' },
    { ...good, signer_id: 'ed25519:short' },
    { ...good, signer_id: 'rsa:' + good.signer_id.slice(8) },
    { ...good, sig: 12 },
    null,
  ];
  for (const b of bad) assert.equal(verifySignature(b as Signature, bytes), false);
  assert.equal(publicKeyFromSignerId('nope'), undefined);
  assert.throws(() => privateKeyFromSeed('short'));
});

test('quorum: distinct signers count once; duplicate, unknown and invalid are BadSignature', () => {
  const keys = [generateKeyFile(), generateKeyFile(), generateKeyFile()];
  const allow = new Set(keys.map((k) => k.signer_id));
  const bytes = signedBytes({ registry: 'r', op: 'commit', payload_b3: 'b3:x', version: 3 });
  const [a, b] = keys.map((k) => signBytes(k, bytes)) as [Signature, Signature];
  assert.deepEqual(checkQuorum([a, b], bytes, allow, 2), {
    valid: [a.signer_id, b.signer_id],
    have: 2,
    need: 2,
  });
  const few = checkQuorum([a], bytes, allow, 2);
  assert.equal(few.error, undefined);
  assert.ok(few.have < few.need);
  assert.equal(checkQuorum([a, a], bytes, allow, 2).error?.code, 'BadSignature');
  const stranger = signBytes(generateKeyFile(), bytes);
  assert.equal(checkQuorum([a, stranger], bytes, allow, 1).error?.code, 'BadSignature');
  const other = signBytes(
    keys[2]!,
    signedBytes({ registry: 'r', op: 'commit', payload_b3: 'b3:x', version: 4 }),
  );
  assert.equal(checkQuorum([a, other], bytes, allow, 1).error?.code, 'BadSignature');
});

test('property: quorum have equals the number of distinct allow-listed valid signers', () => {
  const keys = Array.from({ length: 5 }, () => generateKeyFile());
  const allow = new Set(keys.map((k) => k.signer_id));
  const bytes = signedBytes({ registry: 'p', op: 'commit', payload_b3: 'b3:p', version: 1 });
  const sigs = keys.map((k) => signBytes(k, bytes));
  fc.assert(
    fc.property(fc.subarray([0, 1, 2, 3, 4]), fc.integer({ min: 1, max: 5 }), (idx, t) => {
      const q = checkQuorum(
        idx.map((i) => sigs[i]!),
        bytes,
        allow,
        t,
      );
      assert.equal(q.error, undefined);
      assert.equal(q.have, idx.length);
      assert.equal(q.need, t);
    }),
    { numRuns: 50 },
  );
});

test('strict JSON: duplicate keys, unsafe integers, lone surrogates and junk are rejected', () => {
  assert.deepEqual(parseStrictJson('{"a":[1,2.5,-3e2,true,null,"x\\u0041\\n"]}'), {
    a: [1, 2.5, -300, true, null, 'xA\n'],
  });
  for (const bad of [
    '{"a":1,"a":2}',
    '{"a":{"b":1,"b":1}}',
    '{"a":9007199254740993}',
    '{"a":1e400}',
    '"\\ud800"',
    '{"a":1}x',
    '{"a":01}',
    "{'a':1}",
    '{"a":1,}',
    '[1,]',
    '',
    '{"a":"\u0001"}',
    'NaN',
  ]) {
    assert.throws(() => parseStrictJson(bad), { name: 'StrictJsonError' }, bad);
  }
  const proto = parseStrictJson('{"__proto__":{"x":1}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
});

test('property: strict parse agrees with JSON.parse on JSON.stringify output', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      const text = JSON.stringify(v);
      if (hasUnsafeInteger(v)) assert.throws(() => parseStrictJson(text), { name: 'StrictJsonError' });
      else assert.deepEqual(parseStrictJson(text), JSON.parse(text));
    }),
    { numRuns: 200 },
  );
});

function hasUnsafeInteger(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) && Math.abs(v) < 1e21;
  if (Array.isArray(v)) return v.some(hasUnsafeInteger);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasUnsafeInteger);
  return false;
}
