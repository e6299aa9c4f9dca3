// One in-flight budget for every write route (`limits.max_inflight`): /registry/commit and the
// governance writes (proposals, approvals, apply) count against the same budget, so a write held
// on one route makes the others answer 429 Busy. Real server on loopback, raw sockets for the holds.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openSocket, waitFor } from '@ron/testkit';
import { json, startTestRegistry, type ErrorBody, type TestRegistry } from './helpers.js';

/** A JSON POST whose body stops after its first bytes: it stays in flight until the rest arrives. */
function heldPost(path: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"`;
}
/** The other 98 bytes of the held body (`{"x":"aaa…"}`, valid JSON that no write route accepts). */
const HELD_REST = `x":"${'a'.repeat(92)}"}`;

describe('write in-flight budget shared by all write routes', () => {
  let reg: TestRegistry;
  let port: number;

  before(async () => {
    reg = await startTestRegistry({ REGISTRY_LIMITS__MAX_INFLIGHT: '1' });
    port = Number(new URL(reg.apiUrl).port);
  });
  after(() => reg.close());

  const post = (path: string): Promise<Response> =>
    fetch(`${reg.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });

  /** Sends `path` until its answer is (429) or is not (any other status) Busy, for up to 2 s. */
  async function until(path: string, busy: boolean): Promise<Response> {
    let last: Response | undefined;
    await waitFor(async () => {
      last = await post(path);
      if ((last.status === 429) === busy) return true;
      await last.body?.cancel();
      return false;
    }, 2000).catch(() =>
      assert.fail(`${path} still answered ${last?.status} after 2 s (${busy ? 'never' : 'still'} Busy)`),
    );
    return last!;
  }

  /** Sends the rest of the held body: the held write runs to its handler (400) and frees the slot. */
  async function release(sock: Socket): Promise<void> {
    const answer = new Promise<string>((resolve) => {
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) resolve(buf);
      });
      sock.on('close', () => resolve(buf));
    });
    sock.write(HELD_REST);
    // The held write was inside the budget all along: it reaches its handler, which refuses the body.
    assert.match(await answer, /^HTTP\/1\.1 400 /);
    sock.destroy();
    // The slot is free again: the next write reaches its handler.
    const next = await until('/registry/commit', false);
    assert.equal(next.status, 400);
    await next.body?.cancel();
  }

  test('a governance write in flight makes /registry/commit answer 429 Busy', async () => {
    const held = await openSocket(port, heldPost('/v1/registry/proposals'));
    try {
      const r = await until('/registry/commit', true);
      const e = (await json<ErrorBody>(r)).error;
      assert.equal(e.code, 'Busy');
      assert.equal(e.retryable, true);
      assert.ok(r.headers.get('retry-after'));
      // The other governance writes share it too; reads have no in-flight budget.
      for (const p of ['/v1/registry/proposals/p1/approvals', '/v1/registry/apply/p1']) {
        const w = await post(p);
        assert.equal(w.status, 429, p);
        await w.body?.cancel();
      }
      const read = await fetch(`${reg.apiUrl}/v1/registry/descriptors`);
      assert.equal(read.status, 200);
      await read.body?.cancel();
    } finally {
      await release(held);
    }
  });

  test('a commit in flight makes a governance write answer 429 Busy', async () => {
    const held = await openSocket(port, heldPost('/registry/commit'));
    try {
      const r = await until('/v1/registry/proposals', true);
      assert.equal((await json<ErrorBody>(r)).error.code, 'Busy');
    } finally {
      await release(held);
    }
  });
});
