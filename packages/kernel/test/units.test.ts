// Human units (SPEC §1.6): durations and sizes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatBytes, parseDuration, parseSize } from '../src/units.js';

test('durations: "250ms", "5s", "1m", "1h", bare numbers are ms', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('42'), 42);
  assert.equal(parseDuration(42), 42);
  assert.equal(parseDuration(' 5s '), 5000);
  for (const bad of ['', 'soon', '5 parsecs', '-1s', '5S', 's', '1d', Number.NaN, -5, null, {}, true])
    assert.equal(parseDuration(bad), undefined, JSON.stringify(bad));
});

test('sizes: bytes, "64KiB", "1MiB", "1GiB", decimal KB/MB', () => {
  assert.equal(parseSize('64KiB'), 65_536);
  assert.equal(parseSize('1MiB'), 1_048_576);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('65536'), 65_536);
  assert.equal(parseSize(65_536), 65_536);
  assert.equal(parseSize('1KB'), 1000);
  assert.equal(parseSize('2MB'), 2_000_000);
  assert.equal(parseSize('10B'), 10);
  for (const bad of ['', 'lots', '1.5MiB', '-1', '1 TiB', 1.5, -1, null])
    assert.equal(parseSize(bad), undefined, String(bad));
});

test('property: formatBytes output parses back to the same byte count', () => {
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 40 }), (n) => {
      assert.equal(parseSize(formatBytes(n)), n);
    }),
  );
  assert.equal(formatBytes(1024 * 1024), '1MiB');
  assert.equal(formatBytes(65536), '64KiB');
  assert.equal(formatBytes(100), '100B');
});

test('property: "<n>ms" / "<n>s" / "<n>m" scale exactly', () => {
  fc.assert(
    fc.property(fc.nat({ max: 1_000_000 }), (n) => {
      assert.equal(parseDuration(`${n}ms`), n);
      assert.equal(parseDuration(`${n}s`), n * 1000);
      assert.equal(parseDuration(`${n}m`), n * 60_000);
    }),
  );
});
