// Bad input gets the right 4xx in the envelope, never a 500 (SPEC §1.2, §1.4, §2.2).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { openSocket, rawRequest } from '@ron/testkit';
import { generateKeyFile } from '../src/index.js';
import { json, startTestRegistry, type ErrorBody, type TestRegistry } from './helpers.js';

let r: TestRegistry;
let port: number;
before(async () => {
  r = await startTestRegistry({ REGISTRY_LIMITS__MAX_REQUEST_BYTES: '4KiB' });
  port = Number(new URL(r.apiUrl).port);
});
after(() => r.close());

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = await json<ErrorBody>(res);
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/json');
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.request_id, res.headers.get('x-request-id'));
  return body;
}

const good = (): { payload_b3: string; signatures: unknown[] } => {
  const v = r.registry.head.version + 1;
  return { payload_b3: 'b3:ok', signatures: r.keys.slice(0, 2).map((k) => r.sign('b3:ok', v, k)) };
};

test('malformed JSON is 400', async () => {
  for (const body of ['{', '{"payload_b3":', 'nope', '', '[1,]', '{"payload_b3":"b3:x"}}'])
    await expectError(await r.post(body), 400, 'BadRequest');
});

test('duplicate keys and non-I-JSON numbers are 400 at parse time', async () => {
  await expectError(
    await r.post('{"payload_b3":"b3:a","payload_b3":"b3:b","signatures":[]}'),
    400,
    'BadRequest',
  );
  await expectError(
    await r.post('{"payload_b3":"b3:a","signatures":[],"x":9007199254740993}'),
    400,
    'BadRequest',
  );
});

test('unknown fields are 400, at the top level and inside a signature', async () => {
  await expectError(await r.post({ ...good(), extra: 1 }), 400, 'BadRequest');
  const g = good();
  await expectError(
    await r.post({ ...g, signatures: [{ ...(g.signatures[0] as object), note: 'x' }] }),
    400,
    'BadRequest',
  );
});

test('wrong types are 400', async () => {
  for (const body of [
    [],
    'str',
    42,
    null,
    { payload_b3: 7, signatures: [] },
    { payload_b3: 'b3:x', signatures: {} },
    { payload_b3: 'b3:x', signatures: ['sig'] },
    { payload_b3: 'b3:x', signatures: [{ signer_id: 1, alg: 'ed25519', sig: 'x' }] },
  ])
    await expectError(await r.post(JSON.stringify(body)), 400, 'BadRequest');
});

test('payload_b3 without the b3: prefix or with bad characters is 400', async () => {
  for (const p of ['SGVsbG8=', 'b3:', 'b3:has space', 'B3:abc', `b3:${'a'.repeat(129)}`])
    await expectError(await r.post({ payload_b3: p, signatures: [] }), 400, 'BadRequest');
});

test('oversized bodies are 413 before the body is read', async () => {
  const big = JSON.stringify({ payload_b3: 'b3:x', signatures: [], pad: 'x'.repeat(8192) });
  await expectError(await r.post(big), 413, 'PayloadTooLarge');
});

test('a wrong or missing content-type is 415', async () => {
  const body = JSON.stringify(good());
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
    const res = await fetch(`${r.apiUrl}/registry/commit`, {
      method: 'POST',
      headers: { 'content-type': ct },
      body,
    });
    await expectError(res, 415, 'UnsupportedMediaType');
  }
});

test('a compressed body is 415 UnsupportedEncoding; a chunked body is 411', async () => {
  const enc = await rawRequest(
    port,
    'POST /registry/commit HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}',
  );
  assert.equal(enc.status, 415);
  assert.equal((JSON.parse(enc.body) as ErrorBody).error.code, 'UnsupportedEncoding');
  const chunked = await rawRequest(
    port,
    'POST /registry/commit HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  );
  assert.equal(chunked.status, 411);
});

test('a POST with neither Content-Length nor Transfer-Encoding has an empty body: never 411 (SPEC §1.4)', async () => {
  // `curl -X POST …/v1/registry/apply/ID`: no proposal of that id → 404, not 411 LengthRequired.
  const apply = await rawRequest(
    port,
    'POST /v1/registry/apply/p-none HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
  );
  assert.notEqual(apply.status, 411, apply.raw);
  assert.equal(apply.status, 404, apply.raw);
  // A route that needs a body answers 400 when it is empty.
  const commit = await rawRequest(
    port,
    'POST /registry/commit HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n',
  );
  assert.equal(commit.status, 400, commit.raw);
  assert.equal((JSON.parse(commit.body) as ErrorBody).error.code, 'BadRequest');
});

test('a signature replayed at another version is 422 BadSignature and nothing is appended', async () => {
  const before = r.registry.head.version;
  const v = before + 1;
  const sigs = r.keys.slice(0, 2).map((k) => r.sign('b3:replay', v + 1, k));
  await expectError(await r.post({ payload_b3: 'b3:replay', signatures: sigs }), 422, 'BadSignature');
  assert.equal(r.registry.head.version, before);
  // Apply a commit, then replay its signatures for the next version.
  const first = good();
  assert.equal((await r.post(first)).status, 200);
  await expectError(await r.post(first), 422, 'BadSignature');
});

test('a signature over another registry id is 422', async () => {
  const v = r.registry.head.version + 1;
  const sigs = r.keys.slice(0, 2).map((k) => r.sign('b3:x', v, k, 'other-registry'));
  await expectError(await r.post({ payload_b3: 'b3:x', signatures: sigs }), 422, 'BadSignature');
});

test('unknown signers, duplicate signers, wrong alg and garbage sigs are 422', async () => {
  const v = r.registry.head.version + 1;
  const [a, b] = r.keys.map((k) => r.sign('b3:x', v, k));
  const stranger = r.sign('b3:x', v, generateKeyFile());
  for (const sigs of [
    [a, stranger],
    [a, a],
    [a, { ...b!, alg: 'rsa' }],
    [a, { ...b!, sig: 'AAAA' }],
    [{ ...a!, signer_id: 'ed25519:nope' }, b],
  ])
    await expectError(await r.post({ payload_b3: 'b3:x', signatures: sigs }), 422, 'BadSignature');
});

test('too few valid signatures is 412 NoQuorum (including none at all)', async () => {
  const v = r.registry.head.version + 1;
  const body = await expectError(
    await r.post({ payload_b3: 'b3:x', signatures: [r.sign('b3:x', v, r.keys[0]!)] }),
    412,
    'NoQuorum',
  );
  assert.match(body.error.message, /2 valid signatures \(got 1\)/);
  await expectError(await r.post({ payload_b3: 'b3:x', signatures: [] }), 412, 'NoQuorum');
  await expectError(await r.post({ payload_b3: 'b3:x' }), 412, 'NoQuorum');
});

test('fuzz: arbitrary JSON bodies and raw bytes never produce a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc
          .record({
            payload_b3: fc.string(),
            signatures: fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
          })
          .map((v) => JSON.stringify(v)),
        fc.string({ maxLength: 200 }),
      ),
      async (body) => {
        const res = await r.post(body);
        assert.ok(res.status >= 400 && res.status < 500, `status ${res.status} for ${body.slice(0, 200)}`);
        await res.arrayBuffer();
      },
    ),
    { numRuns: 150 },
  );
});

test('read routes with odd query strings and paths never 5xx', async () => {
  for (const p of [
    '/registry/history?from=1&from=2',
    '/registry/99999999999999999999',
    '/registry/%ff',
    '/registry/stream?from=abc',
    '/registry/history?limit=1e3',
  ]) {
    const res = await fetch(`${r.apiUrl}${p}`);
    assert.ok(res.status >= 400 && res.status < 500, `${p} → ${res.status}`);
    await res.arrayBuffer();
  }
});

test('a body that never finishes arriving is 408 RequestTimeout', async () => {
  const t = await startTestRegistry({ REGISTRY_TIMEOUTS__REQUEST_MS: '150' });
  try {
    const p = Number(new URL(t.apiUrl).port);
    const sock = await openSocket(
      p,
      'POST /registry/commit HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"payload_b3":',
    );
    const answer = await new Promise<string>((resolve) => {
      let buf = '';
      sock.on('data', (d: Buffer) => (buf += d.toString('latin1')));
      sock.on('close', () => resolve(buf));
      sock.on('error', () => resolve(buf));
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"RequestTimeout"/);
  } finally {
    await t.close();
  }
});
