// The server factory, guards and admin plane on a tiny app: envelope on every error path
// (including Fastify's own), request ids, route-template metrics, each guard, readiness.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import {
  ApiError,
  HttpMetrics,
  Readiness,
  TokenBucket,
  createServer,
  guards,
  listen,
  methodNotAllowed,
  registerAdmin,
} from '../src/index.js';

interface Env {
  error: { code: string; message: string; request_id: string; retryable: boolean; hint?: string };
}

function capture(): { lines: Record<string, unknown>[]; logger: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

function build(): {
  app: FastifyInstance;
  metrics: HttpMetrics;
  readiness: Readiness;
  lines: Record<string, unknown>[];
  release: () => void;
  entered: () => Promise<void>;
} {
  const { lines, logger } = capture();
  const metrics = new HttpMetrics({
    requestsName: 't_http_requests_total',
    latencyName: 't_latency_seconds',
    rejectionsName: 't_rejections_total',
    defaultCollectors: false,
    extraReasons: ['custom'],
  });
  const readiness = new Readiness();
  const setDeps = readiness.flag('deps_ok');
  readiness.probe('cfg_loaded', () => true);
  readiness.probe('explodes', () => {
    throw new Error('probe bug');
  });
  const app = createServer({ logger, metrics, bodyLimit: 1024 });
  registerAdmin(app, {
    readiness,
    metrics,
    version: () => ({ name: 't', version: '1' }),
    readyBody: (r) => ({ ready: r.ready, probes: r.probes, mode: r.mode, failing: r.failing }),
  });
  void setDeps;
  let releaseHeld: (() => void) | undefined;
  app.post(
    '/json',
    {
      schema: {
        body: { type: 'object', properties: { a: { type: 'number' } }, additionalProperties: false },
      },
    },
    (req) => ({
      got: req.body,
    }),
  );
  app.get('/items/:id', (req) => ({ id: (req.params as { id: string }).id }));
  app.get('/boom', () => {
    throw new Error('secret /etc/passwd at line 3');
  });
  app.get('/api-error', () => {
    throw new ApiError('Conflict', 'already there', { hint: 'use another id' });
  });
  app.get('/teapot', (_req, reply) => {
    void reply.code(418).send({ error: 'nope' });
  });
  app.put(
    '/guarded',
    { onRequest: guards(metrics, { bodyCap: 16, concurrency: 1, timeoutMs: 60_000 }) },
    (req) => ({
      len: (req.body as string | undefined)?.length ?? 0,
    }),
  );
  app.get(
    '/held',
    { onRequest: guards(metrics, { concurrency: 1 }) },
    () =>
      new Promise((resolve) => {
        releaseHeld = () => resolve({ ok: true });
      }),
  );
  app.get(
    '/slow',
    { onRequest: guards(metrics, { timeoutMs: 50 }) },
    () => new Promise((r) => setTimeout(() => r({ late: true }), 2000).unref()),
  );
  app.get('/rl', { onRequest: guards(metrics, { rateLimit: { rps: 1, burst: 2 } }) }, () => ({ ok: true }));
  app.get(
    '/tarpit',
    { onRequest: guards(metrics, { rateLimit: { rps: 0.001, burst: 1, tarpitMs: 20 } }) },
    () => ({ ok: true }),
  );
  app.get('/only-get', () => ({ ok: true }));
  methodNotAllowed(app, '/only-get', ['GET']);
  const release = (): void => {
    const r = releaseHeld;
    releaseHeld = undefined;
    r?.();
  };
  const entered = async (): Promise<void> => {
    while (releaseHeld === undefined) await new Promise((res) => setTimeout(res, 5));
  };
  return { app, metrics, readiness, lines, release, entered };
}

async function counter(metrics: HttpMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val));
  return v?.value ?? NaN;
}

describe('server factory (inject)', () => {
  let t: ReturnType<typeof build>;
  before(async () => {
    t = build();
    await t.app.ready();
  });
  after(async () => {
    await t.app.close();
  });

  test('request id: valid echoed, invalid replaced by a ULID, present in the error envelope', async () => {
    const ok = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc.123' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['x-request-id'], 'abc.123');
    const bad = await t.app.inject({ url: '/nope', headers: { 'x-request-id': 'x'.repeat(129) } });
    const id = String(bad.headers['x-request-id']);
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(bad.json<Env>().error.request_id, id);
  });

  test('404 is the envelope and is counted as route="unmatched"', async () => {
    const before = await counter(t.metrics, 't_http_requests_total', {
      route: 'unmatched',
      status: '404',
      method: 'GET',
    });
    const r = await t.app.inject({ url: '/missing/thing?x=1' });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json<Env>().error.code, 'NotFound');
    assert.equal(
      await counter(t.metrics, 't_http_requests_total', { route: 'unmatched', status: '404', method: 'GET' }),
      before + 1,
    );
  });

  test('matched routes are counted by template, never by raw URL', async () => {
    await t.app.inject({ url: '/items/42' });
    assert.equal(
      await counter(t.metrics, 't_http_requests_total', {
        route: '/items/:id',
        status: '200',
        method: 'GET',
      }),
      1,
    );
    const text = await t.metrics.render();
    assert.doesNotMatch(text, /\/items\/42/);
    assert.match(text, /t_rejections_total\{reason="custom"\} 0/);
  });

  test('an unexpected exception → 500 Internal, no leak, logged at error with the request id', async () => {
    const r = await t.app.inject({ url: '/boom', headers: { 'x-request-id': 'boom-1' } });
    assert.equal(r.statusCode, 500);
    const e = r.json<Env>().error;
    assert.equal(e.code, 'Internal');
    assert.doesNotMatch(r.body, /passwd|line 3|at /);
    const line = t.lines.find((l) => l.request_id === 'boom-1' && l.level === 50);
    assert.ok(line, 'error line carries request_id');
  });

  test('ApiError thrown by a handler keeps its code, status and hint', async () => {
    const r = await t.app.inject({ url: '/api-error' });
    assert.equal(r.statusCode, 409);
    assert.deepEqual(
      { code: r.json<Env>().error.code, hint: r.json<Env>().error.hint },
      { code: 'Conflict', hint: 'use another id' },
    );
  });

  test("Fastify's own errors use the envelope: malformed JSON, unknown field, wrong type, too large, empty body", async () => {
    const cases: [Record<string, string>, string, number, string][] = [
      [{ 'content-type': 'application/json' }, '{"a":', 400, 'BadRequest'],
      [{ 'content-type': 'application/json' }, '{"a":1,"extra":2}', 400, 'BadRequest'],
      [{ 'content-type': 'application/json' }, '{"a":"x"}', 400, 'BadRequest'],
      [{ 'content-type': 'text/csv' }, 'a,b', 415, 'UnsupportedMediaType'],
      [
        { 'content-type': 'application/json' },
        JSON.stringify({ a: 1, pad: 'x'.repeat(2000) }),
        413,
        'PayloadTooLarge',
      ],
      [{ 'content-type': 'application/json' }, '', 400, 'BadRequest'],
    ];
    for (const [headers, payload, status, code] of cases) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/json',
        headers: { ...headers, 'x-request-id': 'fw-1' },
        payload,
      });
      assert.equal(r.statusCode, status, `${payload.slice(0, 30)} → ${r.body}`);
      assert.equal(r.json<Env>().error.code, code);
      assert.equal(r.json<Env>().error.request_id, 'fw-1');
    }
    const ok = await t.app.inject({ method: 'POST', url: '/json', payload: { a: 1 } });
    assert.equal(ok.statusCode, 200);
  });

  test('bad percent-encoding in the URL → 400 envelope with the request id', async () => {
    const r = await t.app.inject({ url: '/items/%E0%A4%A', headers: { 'x-request-id': 'url-1' } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.headers['x-request-id'], 'url-1');
    assert.equal(r.json<Env>().error.code, 'BadRequest');
  });

  test('405 with Allow for other methods on a known path', async () => {
    const r = await t.app.inject({ method: 'DELETE', url: '/only-get' });
    assert.equal(r.statusCode, 405);
    assert.equal(r.headers.allow, 'GET');
    assert.equal(r.json<Env>().error.code, 'MethodNotAllowed');
  });

  test('guards by inject: decode, stacked, length, cap — each counted', async () => {
    const cases: [Record<string, string>, number, string, string][] = [
      [{ 'content-encoding': 'gzip', 'content-length': '1' }, 415, 'UnsupportedEncoding', 'decode'],
      [
        { 'content-encoding': 'gzip, br', 'content-length': '1' },
        415,
        'UnsupportedEncoding',
        'stacked_encoding',
      ],
      [{ 'content-length': '99' }, 413, 'PayloadTooLarge', 'body_cap'],
    ];
    for (const [headers, status, code, reason] of cases) {
      const before = await counter(t.metrics, 't_rejections_total', { reason });
      const r = await t.app.inject({ method: 'PUT', url: '/guarded', headers, payload: 'x' });
      assert.equal(r.statusCode, status, reason);
      assert.equal(r.json<Env>().error.code, code);
      assert.equal(await counter(t.metrics, 't_rejections_total', { reason }), before + 1);
    }
    const enc = await t.app.inject({
      method: 'PUT',
      url: '/guarded',
      headers: { 'content-encoding': 'br', 'content-length': '1' },
      payload: 'x',
    });
    assert.equal(enc.headers['accept-encoding'], 'identity');
  });

  test('concurrency: a held request makes the next one 429 Busy immediately; released afterwards', async () => {
    const held = t.app.inject({ url: '/held' });
    await t.entered();
    const r = await t.app.inject({ url: '/held', headers: { 'x-request-id': 'busy-2' } });
    assert.equal(r.statusCode, 429);
    assert.equal(r.json<Env>().error.code, 'Busy');
    assert.equal(r.json<Env>().error.request_id, 'busy-2');
    assert.ok(r.headers['retry-after']);
    assert.equal(await counter(t.metrics, 't_rejections_total', { reason: 'concurrency' }), 1);
    t.release();
    assert.equal((await held).statusCode, 200);
    // The slot is free again once the held request finished.
    const again = t.app.inject({ url: '/held' });
    await t.entered();
    t.release();
    assert.equal((await again).statusCode, 200);
  });

  test('timeout: a handler over its budget → 408 RequestTimeout', async () => {
    const r = await t.app.inject({ url: '/slow', headers: { 'x-request-id': 'slow-2' } });
    assert.equal(r.statusCode, 408);
    assert.equal(r.json<Env>().error.code, 'RequestTimeout');
    assert.equal(await counter(t.metrics, 't_rejections_total', { reason: 'timeout' }), 1);
  });

  test('rate limit: burst passes, then 429 RateLimited with ceiling Retry-After and RateLimit headers; tarpit still answers', async () => {
    const codes: number[] = [];
    let last: Awaited<ReturnType<typeof t.app.inject>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await t.app.inject({ url: '/rl' });
      codes.push(last.statusCode);
    }
    assert.deepEqual(codes.slice(0, 2), [200, 200]);
    assert.equal(codes[3], 429);
    assert.ok(last);
    assert.equal(last.headers['retry-after'], '1');
    assert.equal(last.headers['ratelimit-policy'], '2;w=2');
    assert.match(String(last.headers.ratelimit), /^limit=2, remaining=0, reset=1$/);
    assert.equal((await t.app.inject({ url: '/tarpit' })).statusCode, 200);
    // The tarpit timer is unref'd (it must not hold a closing process); keep this test's loop alive.
    const keep = setInterval(() => {}, 1000);
    const tar = await t.app.inject({ url: '/tarpit' }).finally(() => clearInterval(keep));
    assert.equal(tar.statusCode, 429);
    assert.ok(Number(tar.headers['retry-after']) >= 1);
  });

  test('readiness: failing and throwing probes are named; 503 with Retry-After: 5', async () => {
    const r = await t.app.inject({ url: '/readyz' });
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers['retry-after'], '5');
    const b = r.json<{ ready: boolean; failing: string[]; probes: Record<string, boolean> }>();
    assert.deepEqual(b.failing.sort(), ['deps_ok', 'explodes']);
    assert.equal(b.probes.cfg_loaded, true);
    const v = await t.app.inject({ url: '/version' });
    assert.deepEqual(v.json(), { name: 't', version: '1' });
    const m = await t.app.inject({ url: '/metrics' });
    assert.match(String(m.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  });
});

describe('token bucket', () => {
  test('answers whole seconds (ceiling) until the next token', () => {
    const b = new TokenBucket({ rps: 0.25, burst: 1 });
    assert.equal(b.take(), 0);
    const wait = b.take();
    assert.ok(wait >= 3 && wait <= 4, String(wait));
    assert.equal(b.remaining, 0);
    assert.equal(b.policy, '1;w=4');
  });
});

describe('readiness', () => {
  test('dev-forced reports mode and stays ready, but shutdown always wins', () => {
    const r = new Readiness({ devForced: true });
    r.flag('deps_ok');
    assert.deepEqual(
      { ready: r.check().ready, mode: r.check().mode, failing: r.check().failing },
      { ready: true, mode: 'dev-forced', failing: ['deps_ok'] },
    );
    r.markShuttingDown();
    assert.equal(r.check().ready, false);
    assert.ok(r.check().failing.includes('shutting_down'));
    assert.equal(r.shuttingDown, true);
  });
});

describe('malformed HTTP on a real socket', () => {
  let t: ReturnType<typeof build>;
  let port: number;
  before(async () => {
    t = build();
    const url = await listen(t.app, { kind: 'tcp', host: '127.0.0.1', port: 0 });
    port = Number(new URL(url).port);
  });
  after(async () => {
    await t.app.close();
  });

  function raw(data: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write(data));
      let buf = '';
      s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
      s.on('close', () => resolve(buf));
      s.on('error', reject);
    });
  }

  test('garbage request line → 400 envelope with a generated request id, connection closed', async () => {
    const out = await raw('NOT HTTP AT ALL\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)) as Env;
    assert.equal(body.error.code, 'BadRequest');
    assert.match(out, new RegExp(`x-request-id: ${body.error.request_id}`));
  });

  test('oversized headers → 431 HeadersTooLarge envelope', async () => {
    const out = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 431 /);
    assert.match(out, /"code":"HeadersTooLarge"/);
  });

  test('a small rejected body keeps the connection alive; the next request on it is served', async () => {
    const out = await raw(
      'PUT /guarded HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc' +
        'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.match(out, /^HTTP\/1\.1 415 /);
    assert.match(out, /HTTP\/1\.1 200 /);
  });

  test('a large or chunked rejected body closes the connection', async () => {
    const out = await raw(
      'PUT /guarded HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 1000000\r\n\r\nabc',
    );
    assert.match(out, /^HTTP\/1\.1 415 /);
    assert.match(out, /connection: close/i);
  });
});
