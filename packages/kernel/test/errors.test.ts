// Every error code is documented; the envelope has the SPEC §1.2 shape.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ApiError, ERROR_CODES, codeForStatus, envelope, type ErrorCode } from '../src/index.js';

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
  assert.equal(new ApiError('RateLimited', 'm', { headers: { 'retry-after': '3' } }).headers['retry-after'], '3');
});

test('codeForStatus maps every documented status back to a code of that status', () => {
  for (const status of new Set(Object.values(ERROR_CODES))) assert.equal(ERROR_CODES[codeForStatus(status)], status, String(status));
  assert.equal(codeForStatus(418), 'BadRequest');
  assert.equal(codeForStatus(599), 'Internal');
});
