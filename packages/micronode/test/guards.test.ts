// SPEC §1.4 ingress guards on the real process: status, envelope code, request-id echo and the
// rejection counter for every guard.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSocket, parseRawResponse, rawRequest, waitFor, type Program } from '@ron/testkit';
import { assertEnvelope, portOf, rejections, startNode } from './helpers.js';

const MiB = 1024 * 1024;

function req(method: string, path: string, headers: Record<string, string | number>, body = ''): string {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

describe('guards (real process)', () => {
  let node: Program;
  let port: number;
  before(async () => {
    node = await startNode({
      MICRONODE_DEV_ROUTES: '1',
      MICRONODE_READY_TIMEOUT_MS: '400ms',
    });
    port = portOf(node.url);
  });
  after(async () => {
    await node.stop();
  });

  test('Content-Encoding gzip → 415 UnsupportedEncoding, Accept-Encoding: identity, reason decode', async () => {
    const before = await rejections(node.url, 'decode');
    const r = await rawRequest(
      port,
      req(
        'POST',
        '/dev/echo',
        {
          'x-request-id': 'enc-1',
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': 2,
        },
        '{}',
      ),
      { untilFirstResponse: true },
    );
    assert.equal(r.status, 415);
    assert.equal(r.headers['accept-encoding'], 'identity');
    assert.equal(r.headers['x-request-id'], 'enc-1');
    assertEnvelope(r.body, 'UnsupportedEncoding', 'enc-1');
    assert.equal(await rejections(node.url, 'decode'), before + 1);
  });

  test('stacked Content-Encoding (gzip, br) on a KV PUT → 415, reason stacked_encoding', async () => {
    const before = await rejections(node.url, 'stacked_encoding');
    const r = await rawRequest(
      port,
      req(
        'PUT',
        '/v1/kv/b/k',
        { 'x-request-id': 'enc-2', 'content-encoding': 'gzip, br', 'content-length': 1 },
        'x',
      ),
      { untilFirstResponse: true },
    );
    assert.equal(r.status, 415);
    assert.equal(r.headers['accept-encoding'], 'identity');
    assert.equal(r.headers['x-request-id'], 'enc-2');
    assertEnvelope(r.body, 'UnsupportedEncoding', 'enc-2');
    assert.equal(await rejections(node.url, 'stacked_encoding'), before + 1);
  });

  test('an encoded KV PUT is answered the same before routing and by the route guard; both counted under the route template', async () => {
    const metric = async (): Promise<number> => {
      const text = await (await fetch(`${node.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('micronode_http_requests_total{') &&
            l.includes('method="PUT"') &&
            l.includes('route="/v1/kv/:bucket/:key"') &&
            l.includes('status="415"'),
        );
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before415 = await metric();
    const beforeDecode = await rejections(node.url, 'decode');
    // Plain segments take the pre-routing check; a percent-encoded key takes the route's own guard.
    const answers = [];
    for (const path of ['/v1/kv/b/plain-key?x=1', '/v1/kv/b/enc%20key']) {
      const r = await rawRequest(
        port,
        req('PUT', path, { 'x-request-id': 'same-1', 'content-encoding': 'gzip', 'content-length': 1 }, 'x'),
        {
          untilFirstResponse: true,
        },
      );
      assert.equal(r.status, 415, path);
      assert.equal(r.headers['accept-encoding'], 'identity', path);
      assert.equal(r.headers['x-request-id'], 'same-1', path);
      assert.match(String(r.headers['content-type']), /^application\/json/, path);
      assert.equal(r.headers.connection, 'keep-alive', `${path}: a 1-byte body keeps the connection`);
      const env = JSON.parse(r.body) as { error: Record<string, unknown> };
      delete env.error.ts;
      answers.push(env);
    }
    assert.deepEqual(answers[0], answers[1]);
    await waitFor(async () => (await metric()) === before415 + 2);
    assert.equal(await rejections(node.url, 'decode'), beforeDecode + 2);
    // A body too long to discard closes the connection on either path.
    const big = await rawRequest(
      port,
      req('PUT', '/v1/kv/b/k', { 'content-encoding': 'gzip', 'content-length': 10 * MiB }, ''),
      { untilFirstResponse: true },
    );
    assert.equal(big.status, 415);
    assert.equal(big.headers.connection, 'close');
    // Not the KV write route's shape: no route, so 404 (the pre-routing check declines it).
    const other = await rawRequest(
      port,
      req('PUT', '/v1/kv/b/k/extra', { 'content-encoding': 'gzip', 'content-length': 1 }, 'x'),
      { untilFirstResponse: true },
    );
    assert.equal(other.status, 404);
  });

  test('Content-Encoding: identity is accepted', async () => {
    const r = await fetch(`${node.url}/v1/kv/b/identity`, {
      method: 'PUT',
      body: 'v',
      headers: { 'content-encoding': 'identity' },
    });
    assert.equal(r.status, 201);
  });

  test('chunked PUT without Content-Length → 411 LengthRequired, reason length_required', async () => {
    const before = await rejections(node.url, 'length_required');
    const r = await rawRequest(
      port,
      req(
        'PUT',
        '/v1/kv/b/k',
        { 'x-request-id': 'len-1', 'transfer-encoding': 'chunked' },
        '1\r\nx\r\n0\r\n\r\n',
      ),
      { untilFirstResponse: true },
    );
    assert.equal(r.status, 411);
    assert.equal(r.headers['x-request-id'], 'len-1');
    assertEnvelope(r.body, 'LengthRequired', 'len-1');
    assert.equal(await rejections(node.url, 'length_required'), before + 1);
  });

  test('declared length over the cap → 413 with only the headers sent (body never read), reason body_cap', async () => {
    const before = await rejections(node.url, 'body_cap');
    // Only the head goes out: a 413 can only arrive if the server answered without waiting for the body.
    const r = await rawRequest(
      port,
      req('PUT', '/v1/kv/b/big', { 'x-request-id': 'cap-1', 'content-length': 10 * MiB }),
      {
        untilFirstResponse: true,
        timeoutMs: 10_000,
      },
    );
    assert.equal(r.status, 413);
    assert.equal(r.headers['x-request-id'], 'cap-1');
    assertEnvelope(r.body, 'PayloadTooLarge', 'cap-1');
    assert.equal(await rejections(node.url, 'body_cap'), before + 1);
  });

  test('a body longer than declared is cut: the stored value is the declared length', async () => {
    const r = await rawRequest(
      port,
      req('PUT', '/v1/kv/b/cut', { 'content-length': 3, connection: 'close' }, 'abcdef'),
      {
        untilFirstResponse: true,
      },
    );
    // The extra bytes are never part of this request: either the server refuses them as a second
    // (garbage) request or drops them; the PUT itself stores exactly 3 bytes.
    assert.ok(r.status === 201 || r.status === 400, r.raw);
    const got = await fetch(`${node.url}/v1/kv/b/cut`);
    assert.equal(await got.text(), 'abc');
  });

  test('a client that sends less than it declared gets 408 and does not hang the server, reason timeout', async () => {
    const before = await rejections(node.url, 'timeout');
    const r = await rawRequest(
      port,
      req('PUT', '/v1/kv/b/slow', { 'x-request-id': 'slow-1', 'content-length': 100 }, 'only-a-few'),
      {
        untilFirstResponse: true,
        timeoutMs: 10_000,
      },
    );
    assert.equal(r.status, 408);
    assert.equal(r.headers['x-request-id'], 'slow-1');
    assertEnvelope(r.body, 'RequestTimeout', 'slow-1');
    assert.equal(await rejections(node.url, 'timeout'), before + 1);
    // The worker is free: the route serves the next write at once.
    const ok = await fetch(`${node.url}/v1/kv/b/after-slow`, { method: 'PUT', body: 'x' });
    assert.equal(ok.status, 201);
    const missing = await fetch(`${node.url}/v1/kv/b/slow`);
    assert.equal(missing.status, 404);
  });

  test('guards never leave the in-flight gauge raised', async () => {
    await waitFor(async () => {
      const m = await fetch(`${node.url}/metrics`).then((x) => x.text());
      return /micronode_ready_inflight_current 0/.test(m);
    });
  });
});

describe('concurrency cap (real process, max in-flight 1)', () => {
  let node: Program;
  let port: number;
  before(async () => {
    node = await startNode({ MICRONODE_READY_MAX_INFLIGHT: '1', MICRONODE_READY_TIMEOUT_MS: '60s' });
    port = portOf(node.url);
  });
  after(async () => {
    await node.stop();
  });

  test('concurrency saturation → 429 Busy immediately while one PUT is held open, reason concurrency', async () => {
    const before = await rejections(node.url, 'concurrency');
    // Headers + half the body: the PUT holds the route's only in-flight slot.
    const held = await openSocket(port, req('PUT', '/v1/kv/b/held', { 'content-length': 10 }, 'half'));
    const heldAnswer = new Promise<string>((resolve) => {
      let buf = '';
      held.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) resolve(buf);
      });
      held.on('close', () => resolve(buf));
      held.on('error', () => resolve(buf));
    });
    try {
      await waitFor(async () => {
        const m = await fetch(`${node.url}/metrics`).then((x) => x.text());
        return /micronode_ready_inflight_current [1-9]/.test(m);
      });
      const r = await rawRequest(
        port,
        req('PUT', '/v1/kv/b/second', { 'x-request-id': 'busy-1', 'content-length': 1 }, 'y'),
        {
          untilFirstResponse: true,
        },
      );
      assert.equal(r.status, 429);
      assert.equal(r.headers['x-request-id'], 'busy-1');
      assert.ok(r.headers['retry-after'] !== undefined);
      assertEnvelope(r.body, 'Busy', 'busy-1');
      assert.equal(await rejections(node.url, 'concurrency'), before + 1);
      // Finishing the held body completes the held PUT normally.
      held.write('-rest!');
      assert.equal(parseRawResponse(await heldAnswer).status, 201);
    } finally {
      held.destroy();
    }
    const v = await fetch(`${node.url}/v1/kv/b/held`);
    assert.equal(v.status, 200);
    assert.equal(await v.text(), 'half-rest!');
  });
});

describe('rate limit (real process, 0.5 rps, burst 2)', () => {
  let node: Program;
  before(async () => {
    node = await startNode({ MICRONODE_DEV_ROUTES: '1', MICRONODE_RL_RPS: '0.5', MICRONODE_RL_BURST: '2' });
  });
  after(async () => {
    await node.stop();
  });

  test('rate limit → 429 RateLimited with ceiling Retry-After and RateLimit headers, reason rate_limit', async () => {
    const before = await rejections(node.url, 'rate_limit');
    let last: Response | undefined;
    // Burst of 2 at 0.5 rps: within a few requests the bucket is empty.
    for (let i = 0; i < 5; i++) {
      last = await fetch(`${node.url}/dev/rl`, { headers: { 'x-request-id': `rl-${i}` } });
      if (last.status === 429) break;
    }
    assert.ok(last);
    assert.equal(last.status, 429);
    const id = last.headers.get('x-request-id')!;
    assert.match(id, /^rl-\d$/);
    assertEnvelope(await last.text(), 'RateLimited', id);
    const ra = last.headers.get('retry-after');
    assert.ok(ra !== null && /^\d+$/.test(ra), `Retry-After is whole seconds: ${ra}`);
    // One token takes 2 s at 0.5 rps: the ceiling is 1 or 2, never 0.
    assert.ok(Number(ra) >= 1 && Number(ra) <= 2);
    assert.ok(last.headers.get('ratelimit-policy'));
    assert.match(last.headers.get('ratelimit') ?? '', /remaining=0/);
    assert.ok((await rejections(node.url, 'rate_limit')) >= before + 1);
  });
});
