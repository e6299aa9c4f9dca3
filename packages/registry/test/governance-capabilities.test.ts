// Capabilities: macaroon bearer tokens with scope and expiry caveats (401 vs 403 semantics).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as macaroon from 'macaroon';
import { ApiError } from '@ron/kernel';
import { generateRootKey } from '../src/index.js';
import { checkCapability, mintCapability, parseRootKey } from '../src/governance/capabilities.js';

const root = parseRootKey(generateRootKey());
const NOW = Date.parse('2026-01-01T00:00:00Z');
const HOUR = new Date(NOW + 3600_000);

function outcome(
  header: string | undefined,
  need: 'registry:propose' | 'registry:apply' = 'registry:propose',
  now = NOW,
): string {
  try {
    checkCapability(header, root, need, now);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof ApiError);
    if (err.status === 401) assert.match(err.headers['www-authenticate'] ?? '', /^Bearer/);
    return `${err.status}`;
  }
}

test('a minted capability grants its scope until it expires', () => {
  const tok = mintCapability({ rootKey: root, scopes: ['registry:propose'], expiresAt: HOUR });
  assert.equal(outcome(`Bearer ${tok}`), 'ok');
  assert.equal(outcome(`Bearer ${tok}`, 'registry:apply'), '403'); // wrong scope
  assert.equal(outcome(`Bearer ${tok}`, 'registry:propose', HOUR.getTime()), '401'); // expired
  const both = mintCapability({
    rootKey: root,
    scopes: ['registry:propose', 'registry:apply'],
    expiresAt: HOUR,
  });
  assert.equal(outcome(`Bearer ${both}`, 'registry:apply'), 'ok');
});

test('missing, malformed, foreign-key or tampered tokens are 401', () => {
  assert.equal(outcome(undefined), '401');
  assert.equal(outcome(''), '401');
  assert.equal(outcome('Basic abc'), '401');
  assert.equal(outcome('Bearer !!!'), '401');
  assert.equal(outcome('Bearer AAAA'), '401');
  const other = mintCapability({
    rootKey: parseRootKey(generateRootKey()),
    scopes: ['registry:propose'],
    expiresAt: HOUR,
  });
  assert.equal(outcome(`Bearer ${other}`), '401');
  // Attenuation is allowed (adds caveats), but removing or editing one breaks the chain.
  const tok = mintCapability({ rootKey: root, scopes: ['registry:apply'], expiresAt: HOUR });
  const bin = Buffer.from(tok, 'base64url');
  const i = bin.indexOf(Buffer.from('registry:apply'));
  bin.write('registry:prop', i, 'utf8'); // same length edit → signature mismatch
  assert.equal(outcome(`Bearer ${bin.toString('base64url')}`, 'registry:apply'), '401');
});

test('attenuation: an added narrower scope caveat still binds; unknown caveats and missing expiry are 401', () => {
  const wide = macaroon.importMacaroon(
    Buffer.from(
      mintCapability({ rootKey: root, scopes: ['registry:propose', 'registry:apply'], expiresAt: HOUR }),
      'base64url',
    ),
  );
  wide.addFirstPartyCaveat('scope = registry:propose');
  const narrowed = Buffer.from(wide.exportBinary()).toString('base64url');
  assert.equal(outcome(`Bearer ${narrowed}`, 'registry:propose'), 'ok');
  assert.equal(outcome(`Bearer ${narrowed}`, 'registry:apply'), '403');
  const odd = macaroon.importMacaroon(
    Buffer.from(
      mintCapability({ rootKey: root, scopes: ['registry:propose'], expiresAt: HOUR }),
      'base64url',
    ),
  );
  odd.addFirstPartyCaveat('ip = 10.0.0.1');
  assert.equal(outcome(`Bearer ${Buffer.from(odd.exportBinary()).toString('base64url')}`), '401');
  const noExp = macaroon.newMacaroon({ identifier: 'x', rootKey: root, version: 2 });
  noExp.addFirstPartyCaveat('scope = registry:propose');
  assert.equal(outcome(`Bearer ${Buffer.from(noExp.exportBinary()).toString('base64url')}`), '401');
  const noScope = macaroon.newMacaroon({ identifier: 'x', rootKey: root, version: 2 });
  noScope.addFirstPartyCaveat(`expires < ${HOUR.toISOString()}`);
  assert.equal(outcome(`Bearer ${Buffer.from(noScope.exportBinary()).toString('base64url')}`), '403');
});

test('root key files: base64url, base64 or JSON {root_key}; short keys refused', () => {
  const k = generateRootKey();
  assert.deepEqual(parseRootKey(`${k}\n`), parseRootKey(JSON.stringify({ root_key: k })));
  assert.throws(() => parseRootKey('abcd'));
});
