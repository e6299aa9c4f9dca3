// issue 9 item 24: a 413 names the setting that raises the body cap. Real process, raw socket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest } from '@ron/testkit';
import { portOf, startNode } from './helpers.js';

test('413 PayloadTooLarge names --max-body-bytes / MICRONODE_MAX_BODY_BYTES in its hint', async () => {
  const node = await startNode({}, ['--max-body-bytes', '1KiB']);
  try {
    const r = await rawRequest(
      portOf(node.url),
      'PUT /v1/kv/demo/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 2048\r\n\r\n',
      { untilFirstResponse: true },
    );
    assert.equal(r.status, 413);
    const e = (JSON.parse(r.body) as { error: { code: string; message: string; hint?: string } }).error;
    assert.equal(e.code, 'PayloadTooLarge');
    assert.match(e.message, /1024-byte limit/);
    assert.match(e.hint ?? '', /--max-body-bytes or MICRONODE_MAX_BODY_BYTES/);
  } finally {
    await node.stop();
  }
});
