// issue 9 item 17: errors name the value and the form expected, hints name the right flag, and
// `cap keygen` makes the root key `cap mint` and the registry read. Real processes throughout.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, tempDir } from '@ron/testkit';
import { ronctl, startRegistryBin } from './helpers.js';

test('a target that is not a URL is named with the form expected (flag or environment)', async () => {
  const flag = await ronctl(['--registry', 'notaurl', 'registry', 'head']);
  assert.equal(flag.code, 64);
  assert.match(flag.stderr, /^error: --registry "notaurl" is not a URL; expected http\(s\):\/\/host:port$/m);
  assert.match(flag.stderr, /^hint: e\.g\. --registry http:\/\/127\.0\.0\.1:9444$/m);
  assert.doesNotMatch(flag.stderr, /Invalid URL/);
  const env = await ronctl(['registry', 'head'], { RON_REGISTRY_URL: 'ftp://host:21' });
  assert.equal(env.code, 64);
  assert.match(
    env.stderr,
    /^error: RON_REGISTRY_URL "ftp:\/\/host:21" is not a URL; expected http\(s\):\/\/host:port$/m,
  );
  const admin = await ronctl(['status', '--admin', '127.0.0.1:8080']);
  assert.equal(admin.code, 64);
  assert.match(
    admin.stderr,
    /^error: --admin "127\.0\.0\.1:8080" is not a URL; expected http\(s\):\/\/host:port$/m,
  );
  assert.match(admin.stderr, /^hint: e\.g\. --admin http:\/\/127\.0\.0\.1:8080$/m);
  // A bad target a command does not use is not an error.
  const unused = await ronctl(['--admin', 'nope', 'keygen', '--json']);
  assert.equal(unused.code, 0, unused.stderr);
});

test('status with nothing running hints --admin / RON_ADMIN_URL, not the registry flag', async () => {
  const port = await freePort();
  const r = await ronctl(['status'], { RON_ADMIN_URL: `http://127.0.0.1:${port}` });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`error: cannot reach http://127\\.0\\.0\\.1:${port}`));
  assert.match(r.stderr, /^hint: .*macronode.*--admin URL or RON_ADMIN_URL$/m);
  assert.doesNotMatch(r.stderr, /--registry|RON_REGISTRY_URL/);
});

test('cap keygen writes a 0600 root key that cap mint and the registry both read; mint hints agree with their errors', async () => {
  const dir = tempDir('ronctl-capkey-');
  const cwd = dir.path;
  try {
    const k = await ronctl(['cap', 'keygen', '--out', 'cap.key'], {}, cwd);
    assert.equal(k.code, 0, k.stderr);
    assert.equal(statSync(join(cwd, 'cap.key')).mode & 0o777, 0o600);
    const again = await ronctl(['cap', 'keygen', '--out', 'cap.key'], {}, cwd);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /refusing to overwrite/);
    const noOut = await ronctl(['cap', 'keygen'], {}, cwd);
    assert.equal(noOut.code, 64);

    const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
    const reg = await startRegistryBin([a], 1, ['--capability-key', join(cwd, 'cap.key')]);
    try {
      const token = await ronctl(
        ['cap', 'mint', '--root-key', 'cap.key', '--scope', 'registry:propose,registry:apply'],
        {},
        cwd,
      );
      assert.equal(token.code, 0, token.stderr);
      writeFileSync(
        join(cwd, 'p.json'),
        JSON.stringify({
          op: 'publish',
          descriptor: { id: 'svc-k', kind: 'service', version: 1, body: { region: 'eu', addr: 'h:1' } },
        }),
      );
      const pub = await ronctl(
        ['registry', 'publish', '--file', 'p.json', '--key', 'a.key', '--token', token.stdout.trim()],
        { RON_REGISTRY_URL: reg.url },
        cwd,
      );
      assert.equal(pub.code, 0, pub.stderr);
      assert.match(pub.stdout, /applied publish \(version 1\)/);
    } finally {
      await reg.stop();
    }

    // A missing file: the hint says how to make one (not what a file it could not read holds).
    const missing = await ronctl(
      ['cap', 'mint', '--root-key', 'nope.key', '--scope', 'registry:apply'],
      {},
      cwd,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: cannot read root key nope\.key: ENOENT$/m);
    assert.match(missing.stderr, /^hint: create one with: ronctl cap keygen --out FILE/m);
    // A file too short to be a key: the error says so and the hint does not claim otherwise.
    writeFileSync(join(cwd, 'short.key'), 'abcd\n');
    const short = await ronctl(
      ['cap', 'mint', '--root-key', 'short.key', '--scope', 'registry:apply'],
      {},
      cwd,
    );
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^error: short\.key is not a capability root key: .*at least 16 bytes/m);
    assert.match(short.stderr, /^hint: .*ronctl cap keygen --out FILE$/m);
  } finally {
    dir.remove();
  }
});
