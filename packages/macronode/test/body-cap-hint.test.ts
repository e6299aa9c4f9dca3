// issue 9 item 24: the gateway's 413 names the setting that raises its body cap. Real node, raw socket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest } from '@ron/testkit';
import { startNode } from './helpers.js';

test('gateway 413 PayloadTooLarge names limits.max_body_bytes / RON_MAX_BODY_BYTES in its hint', async () => {
  const node = await startNode({
    env: { RON_MAX_BODY_BYTES: '1024', RON_SERVICES: 'kv' },
    args: ['--amnesia'],
  });
  try {
    const port = Number(new URL(node.gateway).port);
    const r = await rawRequest(
      port,
      'PUT /v1/kv/demo/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 2048\r\n\r\n',
      { untilFirstResponse: true },
    );
    assert.equal(r.status, 413);
    const e = (JSON.parse(r.body) as { error: { code: string; hint?: string } }).error;
    assert.equal(e.code, 'PayloadTooLarge');
    assert.match(e.hint ?? '', /limits\.max_body_bytes .*RON_MAX_BODY_BYTES/);
  } finally {
    await node.stop();
  }
});
