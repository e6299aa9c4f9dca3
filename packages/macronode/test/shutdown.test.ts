import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startNode } from './helpers.js';

test('SIGTERM under load: readiness flips first, in-flight requests finish, gateway → planes (reverse order) → admin, exit 0', async () => {
  const n = await startNode();
  const gwPort = Number(new URL(n.gateway).port);
  // Background load through the gateway; no answer may be a 500.
  let stop = false;
  const statuses: number[] = [];
  const load = (async () => {
    while (!stop) {
      try {
        const r = await fetch(`${n.gateway}/v1/kv/load/k`);
        statuses.push(r.status);
        await r.arrayBuffer();
      } catch {
        statuses.push(0); // connection refused once the gateway stops accepting
        await new Promise((res) => setTimeout(res, 5));
      }
    }
  })();
  await new Promise((res) => setTimeout(res, 200));

  // An in-flight PUT: headers and half the body now, the rest after SIGTERM.
  const sock = connect(gwPort, '127.0.0.1');
  let answer = '';
  sock.on('data', (d: Buffer) => (answer += d.toString()));
  const closed = new Promise((res) => sock.on('close', res));
  await new Promise((res) => sock.once('connect', res));
  sock.write(
    'PUT /v1/kv/load/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n01234',
  );
  await new Promise((res) => setTimeout(res, 200));

  n.prog.proc.kill('SIGTERM');
  await n.prog.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'));
  // Readiness flipped while the admin plane is still up (the gateway is draining our request).
  const ready = await fetch(`${n.admin}/readyz`);
  assert.equal(ready.status, 503);
  // write, not end: a half-close (FIN) would make node's HTTP server abort the request.
  sock.write('56789');
  await closed;
  assert.match(answer, /^HTTP\/1\.1 201 /);

  const exit = await n.prog.exited;
  stop = true;
  await load;
  assert.equal(exit.code, 0);
  assert.ok(statuses.filter((s) => s === 404).length > 0, 'load ran');
  assert.ok(
    statuses.every((s) => s === 404 || s === 503 || s === 0),
    `unexpected statuses ${[...new Set(statuses)].join(',')}`,
  );

  // Order by each line's timestamp: the host and its planes write to one pipe from several
  // processes, so arrival order is not event order. Each step below happens-after the previous one.
  const at = (pred: (l: Record<string, unknown>) => boolean, what: string): number => {
    const l = n.prog.lines.find(pred);
    assert.ok(l, `missing log line: ${what}`);
    return Date.parse(String(l.time));
  };
  const steps = [
    at((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'), 'shutting down'),
    at((l) => l.event === 'plane_stopping' && l.plane === 'gateway', 'gateway stopping'),
    at((l) => l.event === 'gateway_drained', 'gateway drained'),
    at((l) => l.event === 'plane_stopped' && l.plane === 'gateway', 'gateway stopped'),
    at((l) => l.event === 'plane_stopping' && l.plane === 'kv', 'kv stopping'),
    at((l) => l.event === 'plane_stopped' && l.plane === 'kv', 'kv stopped'),
    at((l) => l.event === 'plane_stopping' && l.plane === 'registry', 'registry stopping'),
    at((l) => l.event === 'plane_stopped' && l.plane === 'registry', 'registry stopped'),
    at((l) => l.event === 'admin_closed', 'admin_closed'),
  ];
  // Started registry → kv → gateway, so stopped gateway (drained) → kv → registry, one at a time.
  for (let i = 1; i < steps.length; i++)
    assert.ok(steps[i]! >= steps[i - 1]!, `step ${i} out of order: ${steps.join(' ')}`);
  await n.stop();
});
