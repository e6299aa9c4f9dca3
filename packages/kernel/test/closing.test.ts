// SPEC §1.7 + §1.2: once close() starts, an in-flight request finishes, and a request that still
// arrives on an open keep-alive connection gets the 503 NotReady envelope with Retry-After.
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { HttpMetrics, createServer } from '../src/index.js';

test('close(): the in-flight request finishes; a pipelined one gets 503 NotReady in the envelope', async () => {
  const metrics = new HttpMetrics({
    requestsName: 'c_http_requests_total',
    latencyName: 'c_latency_seconds',
    rejectionsName: 'c_rejections_total',
    defaultCollectors: false,
  });
  const app = createServer({ logger: pino({ level: 'silent' }), metrics });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  app.get('/slow', async () => {
    entered();
    await held;
    return { slow: true };
  });
  app.get('/ok', () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;

  const sock = connect(port, '127.0.0.1');
  sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  let raw = '';
  sock.on('data', (d: Buffer) => (raw += d.toString('latin1')));
  const ended = new Promise<void>((r) => sock.once('close', () => r()));
  await inHandler;
  const closed = app.close();
  // close() has begun; this connection is busy (not idle), so it stays open and the next request
  // on it is still parsed — that request must be refused in the envelope.
  await new Promise<void>((r) =>
    sock.write('GET /ok HTTP/1.1\r\nHost: x\r\nx-request-id: late-1\r\n\r\n', () => r()),
  );
  await new Promise((r) => setTimeout(r, 50));
  release();
  await ended;
  await closed;

  const second = raw.indexOf('HTTP/1.1', 1);
  assert.ok(second > 0, `expected two responses, got:\n${raw}`);
  const first = parseRawResponse(raw.slice(0, second));
  assert.equal(first.status, 200);
  assert.match(first.body, /"slow":true/);
  const late = parseRawResponse(raw.slice(second));
  assert.equal(late.status, 503);
  assert.equal(late.headers['retry-after'], '5');
  assert.equal(late.headers['x-request-id'], 'late-1');
  assert.equal(late.headers.connection, 'close');
  const env = JSON.parse(late.body) as { error: { code: string; request_id: string; retryable: boolean } };
  assert.equal(env.error.code, 'NotReady');
  assert.equal(env.error.request_id, 'late-1');
  assert.equal(env.error.retryable, true);
});

function parseRawResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const i = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, i).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const c = l.indexOf(':');
    headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(i + 4) };
}
