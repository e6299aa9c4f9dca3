// ronctl mailbox … and ronctl index … against the real svc-mailbox and svc-index programs (the
// gateway serves the same paths; --gateway / RON_GATEWAY_URL name the target).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { spawnProgram, type Program } from '@ron/testkit';
import { ronctl } from './helpers.js';

const MAILBOX_BIN = fileURLToPath(new URL('../../../mailbox/bin/svc-mailbox.js', import.meta.url));
const INDEX_BIN = fileURLToPath(new URL('../../../index/bin/svc-index.js', import.meta.url));
const A = `b3:${'d'.repeat(64)}`;

let mb: Program;
let ix: Program;
before(async () => {
  [mb, ix] = await Promise.all([
    spawnProgram({ bin: MAILBOX_BIN, args: ['--bind', '127.0.0.1:0', '--amnesia'] }),
    spawnProgram({ bin: INDEX_BIN, args: ['--bind', '127.0.0.1:0', '--amnesia'] }),
  ]);
});
after(async () => {
  await Promise.all([mb.stop(), ix.stop()]);
});

test('ronctl mailbox send | receive | ack | stats', async () => {
  const sent = await ronctl(['mailbox', 'send', 'jobs', 'hello', '--key', 'k1'], { RON_GATEWAY_URL: mb.url });
  assert.equal(sent.code, 0, sent.stderr);
  const id = sent.stdout.trim();
  const dup = await ronctl(['mailbox', '--gateway', mb.url, 'send', 'jobs', 'again', '--key', 'k1']);
  assert.equal(dup.stdout.trim(), `${id} (duplicate: already enqueued)`);
  const stats = await ronctl(['mailbox', '--gateway', mb.url, 'stats']);
  assert.match(stats.stdout, /^jobs\s+1\s+0\s+0\s+0\s/m);
  const got = await ronctl([
    'mailbox',
    '--gateway',
    mb.url,
    'receive',
    'jobs',
    '--max',
    '5',
    '--visibility',
    '1m',
  ]);
  assert.equal(got.code, 0, got.stderr);
  const [gid, attempt, receipt, body] = got.stdout.trim().split('\t');
  assert.equal(gid, id);
  assert.equal(attempt, 'attempt 1');
  assert.equal(body, 'hello');
  const r = receipt!.replace('receipt ', '');
  const ack = await ronctl(['mailbox', '--gateway', mb.url, 'ack', 'jobs', r]);
  assert.equal(ack.stdout.trim(), 'acked 1');
  const stale = await ronctl(['mailbox', '--gateway', mb.url, 'ack', 'jobs', r]);
  assert.notEqual(stale.code, 0);
  assert.match(stale.stderr, /StaleReceipt/);
  const json = await ronctl(['--json', 'mailbox', '--gateway', mb.url, 'stats', 'jobs']);
  assert.equal((JSON.parse(json.stdout) as { topics: { visible: number }[] }).topics[0]!.visible, 0);
  const empty = await ronctl(['mailbox', '--gateway', mb.url, 'receive', 'jobs']);
  assert.equal(empty.code, 0);
  assert.match(empty.stderr, /no messages/);
  const down = await ronctl(['mailbox', '--gateway', 'http://127.0.0.1:9', 'stats']);
  assert.notEqual(down.code, 0);
  assert.match(down.stderr, /RON_GATEWAY_URL/);
});

test('ronctl index set | get | ls', async () => {
  const set = await ronctl([
    'index',
    '--gateway',
    ix.url,
    'set',
    'site/home',
    A,
    '--meta',
    '{"type":"text/html"}',
    '--if-none-match',
  ]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /created site\/home → b3:d+ \(version 1\)/);
  const again = await ronctl(['index', '--gateway', ix.url, 'set', 'site/home', A, '--if-none-match']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /PreconditionFailed/);
  const upd = await ronctl([
    'index',
    '--gateway',
    ix.url,
    'set',
    'site/home',
    A,
    '--if-match',
    '1',
    '--meta',
    '{"type":"text/html"}',
  ]);
  assert.match(upd.stdout, /updated .* \(version 2\)/);
  const get = await ronctl(['index', 'get', 'site/home'], { RON_GATEWAY_URL: ix.url });
  assert.match(get.stdout, /site\/home → b3:d+ \(version 2/);
  assert.match(get.stdout, /meta \{"type":"text\/html"\}/);
  await ronctl(['index', '--gateway', ix.url, 'set', 'site/about', A]);
  const ls = await ronctl(['index', '--gateway', ix.url, 'ls', '--prefix', 'site/']);
  assert.deepEqual(
    ls.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]),
    ['NAME', 'site/about', 'site/home'],
  );
  const bad = await ronctl(['index', '--gateway', ix.url, 'set', 'x', A, '--meta', '{']);
  assert.notEqual(bad.code, 0);
});
