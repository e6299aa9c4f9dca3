// SPEC §1.7 on the real process: SIGTERM lets an in-flight request finish, refuses new connections,
// then exits 0.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { openSocket, parseRawResponse, waitFor } from '@ron/testkit';
import { portOf, startNode } from './helpers.js';

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('SIGTERM: an in-flight PUT completes with 201, new connections are refused, exit 0', async () => {
  const node = await startNode({ MICRONODE_READY_TIMEOUT_MS: '60s' });
  const port = portOf(node.url);
  try {
    // 1. A slow PUT: headers and the first half of the body.
    const sock = await openSocket(
      port,
      'PUT /v1/kv/drain/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst',
    );
    const answer = new Promise<string>((resolve) => {
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) resolve(buf);
      });
      sock.on('close', () => resolve(buf));
      sock.on('error', () => resolve(buf));
    });
    await waitFor(async () =>
      /micronode_ready_inflight_current 1/.test(await fetch(`${node.url}/metrics`).then((r) => r.text())),
    );

    // 2. SIGTERM while the body is half sent; readiness flips and the listener closes.
    node.proc.kill('SIGTERM');
    await node.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'));
    await waitFor(async () => !(await connectable(port)));
    assert.equal(node.proc.exitCode, null, 'still draining the in-flight request');

    // 3. The rest of the body: the request completes normally.
    sock.write('-half');
    const res = parseRawResponse(await answer);
    assert.equal(res.status, 201, res.raw);
    sock.destroy();

    const exit = await node.exited;
    assert.equal(exit.code, 0);
  } finally {
    await node.stop('SIGKILL');
  }
});

test('SIGINT on an idle node exits 0 promptly with a shutdown log', async () => {
  const node = await startNode({ MICRONODE_STORAGE_ENGINE: 'mem' });
  const exit = await node.stop('SIGINT');
  assert.equal(exit.code, 0);
  assert.ok(node.lines.some((l) => l.msg === 'shutdown complete'));
});
