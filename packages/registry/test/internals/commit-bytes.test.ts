import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { commitSignedBytes } from '../../src/commit-bytes.js';
import { signedBytes } from '../../src/signing.js';

test('commitSignedBytes is byte for byte the JCS text signedBytes gives a commit', () => {
  fc.assert(
    fc.property(
      // Any strings (escapes, non-ASCII, lone surrogates), not only the ones validation lets through.
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'binary' }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      (registry, payload_b3, version) => {
        const want = signedBytes({ registry, op: 'commit', payload_b3, version });
        assert.deepEqual(commitSignedBytes(registry, payload_b3, version), want);
      },
    ),
    { numRuns: 2000 },
  );
  assert.equal(
    commitSignedBytes('default', 'b3:SGVsbG8=', 1).toString('utf8'),
    '{"domain":"ron-registry/v1","op":"commit","payload_b3":"b3:SGVsbG8=","registry":"default","version":1}',
  );
});
