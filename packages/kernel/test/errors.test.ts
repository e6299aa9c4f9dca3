// Every error code is documented; the envelope has the SPEC §1.2 shape.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { ApiError, apiProblem } from '../src/index.js';
import { ERROR_CODES, codeForStatus, envelope, envelopeText, type ErrorCode } from '../src/errors.js';

const DOC = new URL('../../../../docs/errors.md', import.meta.url);

test('docs/errors.md lists every code in ERROR_CODES with its status', () => {
  const doc = readFileSync(DOC, 'utf8');
  const missing: string[] = [];
  for (const [code, status] of Object.entries(ERROR_CODES)) {
    const row = new RegExp(`^\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`, 'm');
    if (!row.test(doc)) missing.push(`${code} (${status})`);
  }
  assert.deepEqual(missing, [], `docs/errors.md is missing rows for: ${missing.join(', ')}`);
});

test('every code docs/errors.md documents exists in ERROR_CODES, with the same status and retryability', () => {
  const doc = readFileSync(DOC, 'utf8');
  const rows = [...doc.matchAll(/^\|\s*`([A-Za-z]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|/gm)];
  assert.ok(rows.length >= Object.keys(ERROR_CODES).length, 'the code table was found');
  const wrong: string[] = [];
  for (const [, code, status, retryable] of rows) {
    if (!(code! in ERROR_CODES)) {
      wrong.push(`${code} is documented but not in ERROR_CODES`);
      continue;
    }
    const c = code as ErrorCode;
    if (ERROR_CODES[c] !== Number(status))
      wrong.push(`${code}: docs say ${status}, code says ${ERROR_CODES[c]}`);
    if (new ApiError(c, 'm').retryable !== (retryable === 'yes'))
      wrong.push(`${code}: docs say retryable ${retryable}`);
  }
  assert.deepEqual(wrong, []);
});

test('the envelope: code, message, retryable, second-precision UTC ts, request_id; hint only when set', () => {
  const e = envelope(new ApiError('NoQuorum', 'need 3 signatures', { hint: 'add a signer' }), 'req-1');
  assert.deepEqual(Object.keys(e.error).sort(), ['code', 'hint', 'message', 'request_id', 'retryable', 'ts']);
  assert.equal(e.error.code, 'NoQuorum');
  assert.equal(e.error.request_id, 'req-1');
  assert.equal(e.error.retryable, false);
  assert.match(e.error.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const plain = envelope(new ApiError('NotFound', 'x'), 'r');
  assert.equal('hint' in plain.error, false);
});

test('statuses follow ERROR_CODES; 429 and 503 carry Retry-After; retryable defaults per code', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const e = new ApiError(code, 'm');
    assert.equal(e.status, ERROR_CODES[code]);
    if (e.status === 429 || e.status === 503) assert.ok(e.headers['retry-after'], `${code} has Retry-After`);
  }
  assert.equal(new ApiError('Busy', 'm').retryable, true);
  assert.equal(new ApiError('BadRequest', 'm').retryable, false);
  assert.equal(new ApiError('BadRequest', 'm', { retryable: true }).retryable, true);
  assert.equal(
    new ApiError('RateLimited', 'm', { headers: { 'retry-after': '3' } }).headers['retry-after'],
    '3',
  );
});

test('codeForStatus maps every documented status back to a code of that status', () => {
  for (const status of new Set(Object.values(ERROR_CODES)))
    assert.equal(ERROR_CODES[codeForStatus(status)], status, String(status));
  assert.equal(codeForStatus(418), 'BadRequest');
  assert.equal(codeForStatus(599), 'Internal');
});

test('envelopeText is the envelope as JSON for any message and hint (quotes, controls, unicode)', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  fc.assert(
    fc.property(
      fc.constantFrom(...codes),
      fc.string({ maxLength: 80, unit: 'binary' }),
      fc.option(fc.string({ maxLength: 40, unit: 'binary' }), { nil: undefined }),
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
      (code, message, hint, id) => {
        const err = new ApiError(code, message, hint === undefined ? {} : { hint });
        const text = envelopeText(err, id);
        assert.deepEqual(JSON.parse(text), envelope(err, id));
        assert.equal(text, JSON.stringify(envelope(err, id)));
      },
    ),
  );
});

test('apiProblem carries the same fields and Retry-After default as ApiError, without an Error', () => {
  for (const code of ['UnsupportedEncoding', 'Busy', 'RateLimited', 'NotReady'] as const) {
    const p = apiProblem(code, 'm');
    const e = new ApiError(code, 'm');
    assert.ok(!(p instanceof Error));
    assert.deepEqual(
      { code: p.code, status: p.status, retryable: p.retryable, headers: p.headers, hint: p.hint },
      { code: e.code, status: e.status, retryable: e.retryable, headers: e.headers, hint: e.hint },
    );
  }
  assert.deepEqual(apiProblem('Busy', 'm', { 'retry-after': '1' }).headers, { 'retry-after': '1' });
});
