// issue 9 item 24: a 413 names the setting that raises the body cap. Real process, raw socket.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { rawRequest, spawnProgram } from '@ron/testkit';

const BIN = fileURLToPath(new URL('../../bin/svc-registry.js', import.meta.url));

test('413 PayloadTooLarge on every write route names limits.max_request_bytes in its hint', async () => {
  const reg = await spawnProgram({
    bin: BIN,
    args: ['--dev', '--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'],
    env: { REGISTRY_LIMITS__MAX_REQUEST_BYTES: '1024' },
    timeoutMs: 30_000,
  });
  try {
    const port = Number(new URL(reg.url).port);
    for (const path of ['/registry/commit', '/v1/registry/proposals']) {
      const r = await rawRequest(
        port,
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n`,
        { untilFirstResponse: true },
      );
      assert.equal(r.status, 413, path);
      const e = (JSON.parse(r.body) as { error: { code: string; hint?: string } }).error;
      assert.equal(e.code, 'PayloadTooLarge');
      assert.match(e.hint ?? '', /\[limits\] max_request_bytes .*REGISTRY_LIMITS__MAX_REQUEST_BYTES/, path);
    }
  } finally {
    await reg.stop();
  }
});
