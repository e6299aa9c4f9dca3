// The listener can be a Unix socket (SPEC §1 server factory: TCP or Unix); the ready line names it.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, test } from 'node:test';
import { spawnProgram, tempDir } from '@ron/testkit';
import { BIN } from './helpers.js';

const dir = tempDir();
after(() => dir.remove());

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('--bind unix:/path serves the admin plane and the KV API over the socket', async () => {
  const sock = `${dir.path}/mn.sock`;
  const node = await spawnProgram({
    bin: BIN,
    args: ['--bind', `unix:${sock}`],
    env: { MICRONODE_STORAGE_ENGINE: 'mem' },
  });
  try {
    assert.equal(node.url, `unix:${sock}`);
    const r = await get(sock, '/readyz');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { ready: boolean }).ready, true);
    assert.deepEqual(JSON.parse((await get(sock, '/v1/ping')).body), { pong: true });
  } finally {
    const exit = await node.stop();
    assert.equal(exit.code, 0);
  }
});
