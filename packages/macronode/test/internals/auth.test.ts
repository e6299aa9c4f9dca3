import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { authorize, isLoopbackAddress, tokenMatches } from '../../src/auth.js';

test('loopback predicate: 127.0.0.0/8, ::1 and ::ffff:127.x are loopback', () => {
  for (const a of [
    '127.0.0.1',
    '127.1.2.3',
    '127.255.255.255',
    '::1',
    '::ffff:127.0.0.1',
    '::FFFF:127.9.9.9',
    '0:0:0:0:0:0:0:1',
  ])
    assert.equal(isLoopbackAddress(a), true, a);
  for (const a of [
    '10.0.0.1',
    '128.0.0.1',
    '::ffff:10.0.0.1',
    '::2',
    'fe80::1',
    '',
    undefined,
    'localhost',
    '127.0.0.1.evil',
    '1127.0.0.1',
  ])
    assert.equal(isLoopbackAddress(a), false, String(a));
});

test('property: every 127.a.b.c (plain and IPv4-mapped) is loopback; every other IPv4 is not', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  fc.assert(
    fc.property(octet, octet, octet, octet, (a, b, c, d) => {
      const v4 = `${a}.${b}.${c}.${d}`;
      assert.equal(isLoopbackAddress(v4), a === 127);
      assert.equal(isLoopbackAddress(`::ffff:${v4}`), a === 127);
    }),
  );
});

test('auth decision depends on the socket address only: a spoofed X-Forwarded-For changes nothing', () => {
  // authorize() has no header input besides Authorization: the XFF value cannot reach it. The
  // integration tests (netns) send a spoofed XFF over a real non-loopback socket and still get 403.
  const fromRemote = authorize({
    token: '',
    insecure: false,
    authorization: undefined,
    socketAddress: '10.9.8.2',
  });
  assert.deepEqual(fromRemote.ok, false);
  assert.equal(fromRemote.ok === false && fromRemote.status, 403);
  const fromLoop = authorize({
    token: '',
    insecure: false,
    authorization: undefined,
    socketAddress: '::ffff:127.0.0.1',
  });
  assert.equal(fromLoop.ok, true);
  assert.equal(
    authorize({ token: '', insecure: true, authorization: undefined, socketAddress: '10.9.8.2' }).ok,
    true,
  );
});

test('with a token: bearer required (401 otherwise) even from loopback; constant-time compare', () => {
  const d = authorize({
    token: 's3cret',
    insecure: false,
    authorization: undefined,
    socketAddress: '127.0.0.1',
  });
  assert.equal(d.ok === false && d.status, 401);
  assert.equal(
    authorize({ token: 's3cret', insecure: false, authorization: 'Bearer s3cret', socketAddress: '10.0.0.2' })
      .ok,
    true,
  );
  assert.equal(tokenMatches('Bearer s3cret', 's3cret'), true);
  assert.equal(tokenMatches('bearer s3cret', 's3cret'), true);
  assert.equal(tokenMatches('Bearer s3cre', 's3cret'), false);
  assert.equal(tokenMatches('Basic s3cret', 's3cret'), false);
  assert.equal(tokenMatches(undefined, 's3cret'), false);
});
