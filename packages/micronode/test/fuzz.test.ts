// Property: no input produces a 500. Random methods, paths, headers and bodies are fired at the app
// (in-process inject); every answer is < 500 and every 4xx carries the JSON envelope.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Micronode } from '../src/app.js';
import { inProcess } from './helpers.js';

let node: Micronode;
before(async () => {
  node = inProcess({
    MICRONODE_DEV_ROUTES: '1',
    MICRONODE_MAX_BODY_BYTES: '4KiB',
    MICRONODE_RL_RPS: '1000000',
    MICRONODE_RL_BURST: '1000000',
  });
  await node.openStore();
  node.markListening();
});
after(async () => {
  await node.close(1000);
});

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const segment = fc.oneof(
  fc.constantFrom(
    'v1',
    'kv',
    'dev',
    'echo',
    'rl',
    'healthz',
    'readyz',
    'metrics',
    'version',
    'ping',
    'b',
    'k',
    'Bad',
    '',
  ),
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom('%', '%FF', '%00', '%C3', '..', '.', '%2F', 'a%20b', 'é', '*'),
  fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,70}$/),
);
const path = fc.oneof(
  fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9._-]{0,66}$/), fc.string({ maxLength: 40 }))
    .map(([b, k]) => `/v1/kv/${b}/${encodeURIComponent(k)}`),
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]{1,8}$/),
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 8 }),
    )
    .map(
      ([b, p, c, l]) =>
        `/v1/kv/${b}?prefix=${encodeURIComponent(p)}&cursor=${encodeURIComponent(c)}&limit=${encodeURIComponent(l)}`,
    ),
  // Repeated and bracketed query parameters (parsed into arrays/objects by some parsers).
  fc
    .tuple(fc.constantFrom('prefix', 'cursor', 'limit', 'prefix[a]', 'limit[]'), fc.string({ maxLength: 6 }))
    .map(([k, v]) => `/v1/kv/b?${k}=${encodeURIComponent(v)}&${k}=${encodeURIComponent(v)}x`),
);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/octet-stream',
        'text/plain',
        'application/x-www-form-urlencoded',
        '',
      ),
      headerValue,
    ),
    'content-encoding': fc.oneof(
      fc.constantFrom('gzip', 'identity', 'gzip, br', 'br', 'deflate'),
      headerValue,
    ),
    'if-match': fc.oneof(fc.constantFrom('*', '"b3:00"', 'W/"x"', ''), headerValue),
    'if-none-match': fc.oneof(fc.constantFrom('*', '"b3:00"', ''), headerValue),
    'x-request-id': headerValue,
    accept: headerValue,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 5000 }).map((a) => Buffer.from(a)),
);

test('no request produces a 5xx; every 4xx is a JSON envelope with the echoed request id', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...METHODS), path, headers, body, async (method, url, hdrs, payload) => {
      const withBody = payload !== undefined && method !== 'GET' && method !== 'HEAD';
      const res = await node.app.inject({
        method,
        url,
        headers: hdrs,
        ...(withBody ? { payload } : {}),
      });
      assert.ok(
        res.statusCode < 500,
        `${method} ${url} ${JSON.stringify(hdrs)} → ${res.statusCode} ${res.body.slice(0, 300)}`,
      );
      const id = res.headers['x-request-id'];
      assert.equal(typeof id, 'string', `${method} ${url}: x-request-id on every response`);
      if (res.statusCode >= 400 && method !== 'HEAD') {
        assert.match(String(res.headers['content-type']), /^application\/json/);
        const env = res.json<{ error: { code: string; request_id: string } }>();
        assert.equal(typeof env.error.code, 'string');
        assert.equal(env.error.request_id, id);
      }
    }),
    { numRuns: 1500 },
  );
});
