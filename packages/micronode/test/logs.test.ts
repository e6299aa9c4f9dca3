// issue 9 item 13 (SPEC §1.7): human-readable log lines on a terminal, JSON lines otherwise.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { spawnProgram } from '@ron/testkit';
import { BIN } from './helpers.js';

const clean: Record<string, string | undefined> = { MICRONODE_CONFIG: undefined, LOG_LEVEL: undefined };

test('logs: JSON lines on a pipe, human-readable lines on a terminal', async () => {
  const p = await spawnProgram({ bin: BIN, args: ['--bind', '127.0.0.1:0', '--amnesia'], env: clean });
  assert.equal(p.ready.event, 'ready');
  await p.stop('SIGTERM');
  // `script` gives the program a pseudo-terminal as stdout.
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} --bind 127.0.0.1:0 --amnesia`;
  const tty = spawn('script', ['-qec', cmd, '/dev/null'], {
    env: { ...process.env, ...clean, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => tty.once('exit', () => resolve()));
  await new Promise<void>((resolve) => {
    tty.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/micronode ready|listening|ready/i.test(out)) resolve();
    });
    tty.once('exit', () => resolve());
  });
  const pid = /"pid":(\d+)/.exec(out)?.[1];
  assert.equal(pid, undefined, `no JSON on a terminal:\n${out}`);
  assert.match(out, /INFO/);
  assert.doesNotMatch(out, /^\{"level"/m);
  // Ctrl-C on the terminal: SIGINT to the program, which shuts down and ends `script`.
  tty.stdin.write('\x03');
  await exited;
});
