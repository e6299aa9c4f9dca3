// Fast path: the bytes a commit is signed over, built by hand instead of through the generic JCS
// encoder (`signedBytes`). A commit is judged at one or more versions (the pending head + 1, then
// the reorder window's candidates), so these bytes are built a few times per commit. What it
// skips: sorting keys and walking a generic object. Why that is safe: the message has five fixed
// members whose JCS order is known (domain < op < payload_b3 < registry < version), RFC 8785
// serializes strings exactly as JSON.stringify does and a safe integer as its decimal digits, so
// the text is the same byte for byte; test/internals/commit-bytes.test.ts checks it against
// `signedBytes`.
import { SIGNING_DOMAIN } from './signing.js';

const PREFIX = `{"domain":${JSON.stringify(SIGNING_DOMAIN)},"op":"commit","payload_b3":`;

/**
 * UTF-8 of JCS({domain, registry, op:"commit", payload_b3, version}): what `signedBytes` answers
 * for a commit. `version` must be a safe integer (a version always is).
 */
export function commitSignedBytes(registryId: string, payload_b3: string, version: number): Buffer {
  return Buffer.from(
    `${PREFIX}${JSON.stringify(payload_b3)},"registry":${JSON.stringify(registryId)},"version":${version}}`,
    'utf8',
  );
}
