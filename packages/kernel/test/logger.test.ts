// The lazy per-request logger: no pino child until a line is written at an enabled level; every
// written line carries the request binding.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createLogger } from '../src/index.js';
import { LazyChildLogger } from '../src/logger.js';

function sink(level = 'info'): { lines: Record<string, unknown>[]; logger: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: pino({ level }, stream) };
}

test('disabled levels create no child and write nothing; enabled levels carry the bindings', () => {
  const { lines, logger } = sink('info');
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((b: pino.Bindings, o?: pino.ChildLoggerOptions) => {
    children++;
    return child(b, o);
  }) as unknown as typeof logger.child;
  const l = new LazyChildLogger(logger, { request_id: 'r-1' });
  l.debug('hidden');
  l.trace('hidden');
  assert.equal(children, 0);
  assert.equal(lines.length, 0);
  l.info({ a: 1 }, 'shown');
  l.warn('w');
  l.error('e');
  l.fatal('f');
  assert.equal(children, 1, 'one child, built on first use');
  assert.deepEqual(
    lines.map((x) => [x.msg, x.request_id]),
    [
      ['shown', 'r-1'],
      ['w', 'r-1'],
      ['e', 'r-1'],
      ['f', 'r-1'],
    ],
  );
  assert.equal(lines[0]!.a, 1);
});

test('a line written without building a child is byte for byte the line a pino child writes', () => {
  const raw = (): { out: string[]; logger: pino.Logger } => {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk.toString());
        cb();
      },
    });
    const logger = pino(
      {
        base: { service: 'svc-x', pid: 7 },
        timestamp: () => ',"time":"2026-01-01T00:00:00.000Z"',
        formatters: { level: (label) => ({ level: label }) },
      },
      stream,
    ).child({ listener: 'api' });
    return { out, logger };
  };
  const err = new Error('boom');
  const calls: [Record<string, unknown>, string?][] = [
    [{ version: 3, payload_b3: 'b3:x' }, 'commit applied'],
    [{ err, version: 4 }, 'store append failed'],
    [{ nested: { a: [1, 'é'] } }],
    // Repeats a binding: written by the real child (whatever it writes, the same as before).
    [{ request_id: 'other' }, 'dup'],
  ];
  const a = raw();
  const b = raw();
  let children = 0;
  const child = b.logger.child.bind(b.logger);
  b.logger.child = ((x: pino.Bindings, o?: pino.ChildLoggerOptions) => {
    children++;
    return child(x, o);
  }) as unknown as typeof b.logger.child;
  const real = a.logger.child({ request_id: 'r-9' });
  const lazy = new LazyChildLogger(b.logger, { request_id: 'r-9' });
  for (const [fields, msg] of calls.slice(0, 3)) {
    real.info(fields, msg);
    lazy.info(fields, msg);
  }
  assert.equal(children, 0, 'plain field objects need no child');
  assert.deepEqual(b.out, a.out);
  const [dup, msg] = calls[3]!;
  real.info(dup, msg);
  lazy.info(dup, msg);
  assert.equal(children, 1);
  assert.deepEqual(b.out, a.out);
});

test('the rest of the logger surface: level, isLevelEnabled, bindings, child, silent, flush', () => {
  const { lines, logger } = sink('info');
  const l = new LazyChildLogger(logger, { request_id: 'r-2' });
  assert.equal(l.level, 'info');
  assert.equal(l.isLevelEnabled('debug'), false);
  assert.deepEqual(l.bindings(), { request_id: 'r-2' });
  l.level = 'debug';
  assert.equal(l.isLevelEnabled('debug'), true);
  l.debug('now shown');
  assert.equal(lines.at(-1)!.msg, 'now shown');
  const sub = l.child({ component: 'x' });
  sub.info('sub');
  assert.deepEqual([lines.at(-1)!.request_id, lines.at(-1)!.component], ['r-2', 'x']);
  l.silent();
  l.flush();
  assert.equal(l.logger.level, 'debug');
});

test('createLogger: JSON with service, level label and ISO time', () => {
  const log = createLogger('svc-x', 'warn');
  assert.equal(log.level, 'warn');
  assert.deepEqual(log.bindings().service, 'svc-x');
});
