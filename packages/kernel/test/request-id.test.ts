// SPEC §1.3 request ids: the acceptance rule and generated ULIDs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ulid } from '../src/index.js';
import { isValidRequestId } from '../src/request-id.js';

const ALLOWED = /^[A-Za-z0-9._:-]+$/;

test('accepts 1–128 chars of [A-Za-z0-9._:-], rejects everything else', () => {
  assert.ok(isValidRequestId('a'));
  assert.ok(isValidRequestId('x'.repeat(128)));
  assert.ok(isValidRequestId('01J9Z.abc_def:ghi-1'));
  for (const bad of ['', 'x'.repeat(129), 'a b', 'a/b', 'a;b', 'é', 'a\nb', undefined, 42, ['a']])
    assert.equal(isValidRequestId(bad), false, JSON.stringify(bad));
});

test('property: validity is exactly the length and alphabet rule', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 140, unit: 'binary-ascii' }), (s) => {
      assert.equal(isValidRequestId(s), s.length >= 1 && s.length <= 128 && ALLOWED.test(s));
    }),
  );
});

test('ulid: 26 Crockford chars, valid as a request id, time-prefixed and unique', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = ulid();
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(isValidRequestId(id));
    ids.add(id);
  }
  assert.equal(ids.size, 5000);
  assert.equal(ulid(0).slice(0, 10), '0000000000');
  // Lexicographic order follows time across milliseconds.
  assert.ok(ulid(1_700_000_000_000).slice(0, 10) < ulid(1_700_000_000_001).slice(0, 10));
  assert.equal(ulid(1_700_000_000_000).slice(0, 10), ulid(1_700_000_000_000).slice(0, 10));
});
