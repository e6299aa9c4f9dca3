// testkit's safety net: a test process that exits without stopping a program it started (a failure
// path that skipped its stop()) leaves no server behind — spawnProgram SIGKILLs it by PID on exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@ron/testkit';

const BIN = fileURLToPath(new URL('../../bin/micronode.js', import.meta.url));
const TESTKIT = import.meta.resolve('@ron/testkit');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a program left running when the test process exits is killed by testkit', async () => {
  const script = `
    const { spawnProgram } = await import(${JSON.stringify(TESTKIT)});
    const p = await spawnProgram({ bin: ${JSON.stringify(BIN)}, args: ['--bind', '127.0.0.1:0'], env: { MICRONODE_STORAGE_ENGINE: 'mem' } });
    const res = await fetch(p.url + '/healthz');
    process.stdout.write(JSON.stringify({ pid: p.pid, status: res.status }) + '\\n');
    process.exit(0); // no p.stop()
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const { pid, status } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pid: number; status: number };
  assert.equal(status, 200, 'the program was up and serving before the test process exited');
  await waitFor(() => !alive(pid), 5_000);
  assert.equal(alive(pid), false, `micronode ${pid} outlived the test process that started it`);
});
