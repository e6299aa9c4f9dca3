// Property on the real process: raw, partly malformed HTTP (lying lengths, odd encodings, junk
// header values, truncated bodies) never gets a 5xx and never takes the node down.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { rawRequest, type Program } from '@ron/testkit';
import { portOf, startNode } from './helpers.js';

let node: Program;
before(async () => {
  node = await startNode({
    MICRONODE_DEV_ROUTES: '1',
    MICRONODE_READY_TIMEOUT_MS: '200ms',
    MICRONODE_MAX_BODY_BYTES: '1KiB',
  });
});
after(async () => {
  await node.stop();
});

const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'BREW', 'get');
const target = fc.oneof(
  fc.constantFrom(
    '/v1/kv/b/k',
    '/v1/kv/b',
    '/dev/echo',
    '/dev/rl',
    '/readyz',
    '/v1/kv/B/k',
    '/v1/kv/b/%ZZ',
    '*',
    '/%',
    '/v1/kv/b/k?x=%',
  ),
  fc.stringMatching(/^\/[\x21-\x7e]{0,60}$/),
);
const header = fc.oneof(
  fc.constantFrom(
    'Content-Encoding: gzip',
    'Content-Encoding: gzip, br',
    'Content-Encoding: identity',
    'Transfer-Encoding: chunked',
    'Content-Type: application/json',
    'Content-Type: text/plain',
    'If-Match: *',
    'If-None-Match: "b3:x"',
    'X-Request-Id: ok-1',
    'X-Request-Id: bad id!',
    'Expect: 100-continue',
  ),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,40}$/))
    .map(([k, v]) => `${k}: ${v}`),
);
const length = fc.oneof(
  fc.constant(undefined),
  fc.nat(3000),
  fc.constantFrom('-1', 'abc', '1e3', '10, 10', '99999999999'),
);
const body = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 200 }),
  fc.constant('{"a":1}'),
  fc.constant('5\r\nhello\r\n0\r\n\r\n'),
);

test('raw requests: never a 5xx, the node keeps serving', async () => {
  const port = portOf(node.url);
  await fc.assert(
    fc.asyncProperty(
      method,
      target,
      fc.array(header, { maxLength: 4 }),
      length,
      body,
      async (m, t, hs, len, b) => {
        const lines = [`${m} ${t} HTTP/1.1`, 'Host: x', 'Connection: close', ...hs];
        if (len !== undefined) lines.push(`Content-Length: ${len}`);
        const r = await rawRequest(port, `${lines.join('\r\n')}\r\n\r\n${b}`, { timeoutMs: 3000 });
        // 0 = the server closed without an answer (e.g. a body that never arrives after a 1xx).
        assert.ok(r.status < 500, `${m} ${t} ${hs.join(' | ')} len=${len} → ${r.raw.slice(0, 300)}`);
        if (
          r.status >= 400 &&
          m !== 'HEAD' &&
          r.headers['content-type']?.startsWith('application/json') !== true
        )
          assert.fail(`non-envelope ${r.status} for ${m} ${t}: ${r.raw.slice(0, 300)}`);
      },
    ),
    { numRuns: 150 },
  );
  assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
  assert.equal(node.proc.exitCode, null);
});
