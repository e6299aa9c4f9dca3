// The index and mailbox planes end to end through the gateway of a real macronode, including
// kill -9 of the mailbox plane and of the whole node during producers and consumers.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, waitFor } from '@ron/testkit';
import { planeStatus, startNode, type TestNode } from './helpers.js';

const A = `b3:${'c'.repeat(64)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Msg {
  receipt: string;
  body: string;
  attempts: number;
}

test('index and mailbox through the gateway: CAS, /content redirect, long-poll past the upstream timeout', async () => {
  const node = await startNode({ env: { RON_SERVICES: 'index,mailbox', RON_WRITE_TIMEOUT: '1s' } });
  try {
    const g = node.gateway;
    const put = await fetch(`${g}/v1/index/docs/readme`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-none-match': '*' },
      body: JSON.stringify({ addr: A, meta: { lang: 'en' } }),
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('etag'), '"1"');
    const get = await fetch(`${g}/v1/index/docs/readme`);
    assert.equal(get.status, 200);
    assert.equal(((await get.json()) as { addr: string }).addr, A);
    const content = await fetch(`${g}/v1/index/docs/readme/content`, { redirect: 'manual' });
    assert.equal(content.status, 307);
    assert.equal(content.headers.get('location'), `/v1/cas/${A}`);
    const list = (await (await fetch(`${g}/v1/index?prefix=docs/`)).json()) as { names: { name: string }[] };
    assert.deepEqual(
      list.names.map((n) => n.name),
      ['docs/readme'],
    );

    const enq = await fetch(`${g}/v1/mailbox/jobs`, { method: 'POST', body: 'one' });
    assert.equal(enq.status, 201);
    const [m] = (
      (await (await fetch(`${g}/v1/mailbox/jobs/receive`, { method: 'POST' })).json()) as { messages: Msg[] }
    ).messages;
    assert.equal(Buffer.from(m!.body, 'base64').toString(), 'one');
    const ack = await fetch(`${g}/v1/mailbox/jobs/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts: [m!.receipt] }),
    });
    assert.equal(ack.status, 200);
    // A long-poll longer than the gateway's upstream timeout (1 s) still gets its answer.
    const idle = await fetch(`${g}/v1/mailbox/jobs/receive?wait=2s`, { method: 'POST' });
    assert.equal(idle.status, 200);
    assert.deepEqual(await idle.json(), { messages: [] });
    const waiting = fetch(`${g}/v1/mailbox/jobs/receive?wait=20s`, { method: 'POST' });
    await sleep(100);
    await fetch(`${g}/v1/mailbox/jobs`, { method: 'POST', body: 'two' });
    const got = ((await (await waiting).json()) as { messages: Msg[] }).messages;
    assert.equal(Buffer.from(got[0]!.body, 'base64').toString(), 'two');

    assert.ok(existsSync(join(node.dataDir, 'mailbox', 'mailbox.db')));
    assert.ok(existsSync(join(node.dataDir, 'index', 'index.db')));
    const metrics = await (await fetch(`${node.admin}/metrics`)).text();
    assert.match(metrics, /mailbox_enqueued_total\{topic="jobs"\} 2/);
    assert.match(metrics, /index_ops_total\{op="put"\} 1/);
  } finally {
    await node.stop();
  }
});

test('kill -9 of the mailbox plane and of the whole node during producers and consumers: nothing acknowledged is lost', async () => {
  const dir = tempDir('macronode-mailbox-');
  const env = { RON_SERVICES: 'mailbox', RON_SUPERVISOR__BACKOFF_MIN: undefined };
  let node: TestNode = await startNode({ env, dataDir: dir.path });
  let gw = node.gateway;
  let producing = true;
  let consuming = true;
  const enqueued = new Set<string>();
  const ackedAt = new Map<string, number>();
  const delivered = new Set<string>();
  const violations: string[] = [];
  const producer = async (p: number): Promise<void> => {
    for (let n = 0; producing; n++) {
      const body = `p${p}-${n}`;
      while (producing) {
        try {
          const r = await fetch(`${gw}/v1/mailbox/storm`, {
            method: 'POST',
            body,
            headers: { 'idempotency-key': body },
          });
          await r.arrayBuffer();
          if (r.status === 201 || r.status === 200) {
            enqueued.add(body);
            break;
          }
        } catch {
          // down: retry
        }
        await sleep(25);
      }
    }
  };
  const consumer = async (): Promise<void> => {
    while (consuming) {
      const sentAt = Date.now();
      try {
        const r = await fetch(`${gw}/v1/mailbox/storm/receive?max=5&visibility=1500ms&wait=1s`, {
          method: 'POST',
        });
        if (r.status !== 200) {
          await r.arrayBuffer();
          await sleep(25);
          continue;
        }
        const msgs = ((await r.json()) as { messages: Msg[] }).messages;
        for (const m of msgs) {
          const b = Buffer.from(m.body, 'base64').toString();
          delivered.add(b);
          const at = ackedAt.get(b);
          if (at !== undefined && at < sentAt) violations.push(b);
        }
        if (msgs.length === 0) continue;
        const a = await fetch(`${gw}/v1/mailbox/storm/ack`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ receipts: msgs.map((m) => m.receipt) }),
        });
        await a.arrayBuffer();
        if (a.status === 200)
          for (const m of msgs) ackedAt.set(Buffer.from(m.body, 'base64').toString(), Date.now());
      } catch {
        await sleep(25);
      }
    }
  };
  // Producers apart from consumers: every producer has finished (its last enqueue answered) before
  // the test waits for deliveries, so no message is acknowledged after that wait ended.
  const producers = Array.from({ length: 8 }, (_, i) => producer(i));
  const consumers = Array.from({ length: 8 }, () => consumer());
  const work = [...producers, ...consumers];
  try {
    await sleep(1500);
    // 1. kill -9 of the mailbox plane: the supervisor restarts it.
    const before = await planeStatus(node.admin, 'mailbox');
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(
      async () => {
        const s = await planeStatus(node.admin, 'mailbox');
        return s.state === 'running' && s.pid !== before.pid;
      },
      30_000,
      100,
    );
    await sleep(1500);
    // 2. kill -9 of the whole node, then a new node on the same data dir.
    node.prog.proc.kill('SIGKILL');
    await node.prog.exited;
    node = await startNode({ env, dataDir: dir.path });
    gw = node.gateway;
    await sleep(1000);
    producing = false;
    await Promise.all(producers);
    const deadline = Date.now() + 60_000;
    // At-least-once: every acknowledged enqueue is delivered; under a slow machine a lease can
    // expire before its ack lands (then the message is redelivered, or dead-lettered after
    // max_receives), so delivery — not our ack — is what must hold for every message.
    while (Date.now() < deadline && [...enqueued].some((b) => !delivered.has(b))) await sleep(100);
    consuming = false;
    await Promise.all(work);
    const missing = [...enqueued].filter((b) => !delivered.has(b));
    assert.ok(enqueued.size > 0);
    // On failure, say where the missing messages are (dead-lettered, still queued, or nowhere).
    const where =
      missing.length === 0
        ? ''
        : ` — dlq: ${await (await fetch(`${gw}/v1/mailbox/storm/dlq`)).text()} — topic: ${await (await fetch(`${gw}/v1/mailbox/storm`)).text()}`;
    assert.deepEqual(
      missing.slice(0, 10),
      [],
      `${missing.length} of ${enqueued.size} acknowledged enqueues never delivered${where}`,
    );
    assert.deepEqual(violations.slice(0, 10), [], 'no acked message is delivered again');
  } finally {
    producing = false;
    consuming = false;
    await node.stop();
    dir.remove();
  }
});
