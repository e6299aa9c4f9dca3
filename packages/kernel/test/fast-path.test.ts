// ServerOptions.fastPath: a raw handler that may answer before Fastify routes a request (the
// gateway's proxy hot path). It gets the SPEC §1.3 request id; a declined request keeps that id in
// Fastify; once the server is closing the fast path is skipped and the closing answer wins.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpMetrics, InflightCounter, createServer, guards } from '../src/index.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function build(fast: (req: IncomingMessage, res: ServerResponse, id: string) => boolean) {
  const metrics = new HttpMetrics({
    requestsName: 'fp_http_requests_total',
    latencyName: 'fp_latency_seconds',
    rejectionsName: 'fp_rejections_total',
    defaultCollectors: false,
  });
  const app = createServer({
    logger: pino({ level: 'silent' }),
    metrics,
    fastPath: fast,
    keepAliveTimeoutMs: 1234,
  });
  return { app, metrics };
}

test('fast path answers with the client id or a fresh ULID; declined requests reach Fastify with the same id', async () => {
  const seen: string[] = [];
  const { app } = build((req, res, id) => {
    seen.push(id);
    if (!req.url?.startsWith('/fast')) return false;
    res.writeHead(200, { 'content-type': 'text/plain', 'x-request-id': id });
    res.end('fast');
    return true;
  });
  app.get('/slow', (req, reply) => {
    void reply.send({ id: req.id });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const a = await fetch(`${base}/fast`, { headers: { 'x-request-id': 'client-1' } });
    assert.equal(await a.text(), 'fast');
    assert.equal(a.headers.get('x-request-id'), 'client-1');
    const b = await fetch(`${base}/fast`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(b.headers.get('x-request-id') ?? '', ULID);
    const c = await fetch(`${base}/slow`);
    const body = (await c.json()) as { id: string };
    assert.match(body.id, ULID);
    // The id the fast path was offered is the one Fastify used and echoed.
    assert.equal(body.id, seen.at(-1));
    assert.equal(c.headers.get('x-request-id'), body.id);
    // Unknown paths still get the kernel's 404 envelope, with the offered id.
    const d = await fetch(`${base}/nope`);
    assert.equal(d.status, 404);
    assert.equal(((await d.json()) as { error: { request_id: string } }).error.request_id, seen.at(-1));
    // Fastify's timeouts are applied to the server the kernel built for the fast path.
    assert.equal(app.server.keepAliveTimeout, 1234);
  } finally {
    await app.close();
  }
});

test('once closing, a request pipelined on a busy connection gets the 503 NotReady envelope, not the fast path', async () => {
  let fastCalls = 0;
  const { app } = build((req, res, id) => {
    if (!req.url?.startsWith('/fast')) return false;
    fastCalls++;
    res.writeHead(200, { 'x-request-id': id });
    res.end('fast');
    return true;
  });
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  let entered: () => void = () => undefined;
  const inHandler = new Promise<void>((r) => (entered = r));
  app.get('/slow', async (_req, reply) => {
    entered();
    await held;
    return reply.send({ slow: true });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const sock = connect(port, '127.0.0.1');
  let raw = '';
  sock.on('data', (d: Buffer) => (raw += d.toString('latin1')));
  const ended = new Promise<void>((r) => sock.once('close', () => r()));
  sock.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitUntil(() => raw.includes('fast'));
  assert.equal(fastCalls, 1);
  sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await inHandler;
  const closed = app.close();
  // This connection is busy, so it stays open and the next request on it is still parsed.
  await new Promise<void>((r) =>
    sock.write('GET /fast HTTP/1.1\r\nHost: x\r\nx-request-id: late-1\r\n\r\n', () => r()),
  );
  await new Promise((r) => setTimeout(r, 50));
  release();
  await ended;
  await closed;
  const answers = raw.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 3, raw);
  assert.match(answers[1]!, /^HTTP\/1\.1 200/);
  assert.match(answers[2]!, /^HTTP\/1\.1 503/);
  assert.match(answers[2]!, /x-request-id: late-1/i);
  assert.match(answers[2]!, /"code":"NotReady"/);
  assert.equal(fastCalls, 1);
});

test('guards share an InflightCounter: one budget across routes (and a fast path)', async () => {
  const metrics = new HttpMetrics({
    requestsName: 'ic_http_requests_total',
    latencyName: 'ic_latency_seconds',
    rejectionsName: 'ic_rejections_total',
    defaultCollectors: false,
  });
  const app = createServer({ logger: pino({ level: 'silent' }), metrics });
  const shared = new InflightCounter();
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  app.get('/a', { onRequest: guards(metrics, { concurrency: 1, inflight: shared }) }, async (_req, reply) => {
    await held;
    return reply.send({ ok: 'a' });
  });
  app.get('/b', { onRequest: guards(metrics, { concurrency: 1, inflight: shared }) }, (_req, reply) => {
    void reply.send({ ok: 'b' });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const first = fetch(`${base}/a`);
    await waitUntil(() => shared.n === 1);
    const busy = await fetch(`${base}/b`);
    assert.equal(busy.status, 429);
    assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'Busy');
    release();
    assert.equal((await first).status, 200);
    await waitUntil(() => shared.n === 0);
    assert.equal((await fetch(`${base}/b`)).status, 200);
  } finally {
    await app.close();
  }
});

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
