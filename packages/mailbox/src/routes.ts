import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, guards, sendError, type GuardOptions, type TokenBucket } from '@ron/kernel';
import type { Mailbox } from './mailbox.js';
import type { Delivery, ReceiptResult } from './mailbox-store.js';
import type { MailboxMetrics } from './metrics.js';
import {
  MAX_RECEIVE,
  MAX_VISIBILITY_MS,
  MAX_WAIT_MS,
  duration,
  idempotencyKey,
  intIn,
  jsonBody,
  query,
  receipts,
  topicParam,
} from './params.js';

export interface MailboxRoutesOptions {
  mailbox: () => Mailbox;
  metrics: MailboxMetrics;
  maxMessageBytes: number;
  defaultVisibilityMs: number;
  maxInflight: number;
  timeoutMs: number;
  rateLimit: TokenBucket | undefined;
}

/** JSON bodies of ack/nack/extend/redrive: 100 receipts fit with room to spare. */
const JSON_CAP = 64 * 1024;
const MAX_DLQ_PAGE = 100;

function delivery(m: Delivery): {
  id: string;
  receipt: string;
  body: string;
  attempts: number;
  enqueued_at: string;
} {
  return {
    id: m.id,
    receipt: m.receipt,
    body: m.body.toString('base64'),
    attempts: m.attempts,
    enqueued_at: new Date(m.enqueued_at).toISOString(),
  };
}

function settled(r: ReceiptResult, verb: string): { count: number } {
  if (!r.ok) {
    const first = r.stale[0] ?? '';
    throw new ApiError(
      'StaleReceipt',
      `${r.stale.length} receipt(s) name a lease that is no longer held (first: ${first}); nothing was ${verb}`,
      { hint: 'the lease expired, was nacked or the message was acked; receive the message again' },
    );
  }
  return { count: r.count };
}

/** The mailbox API of SPEC §4.5.3, every route behind the ingress guards. */
export function mailboxRoutes(app: FastifyInstance, opts: MailboxRoutesOptions): void {
  const { metrics, mailbox } = opts;
  const base: GuardOptions = { timeoutMs: opts.timeoutMs, rateLimit: opts.rateLimit };
  const read = guards(metrics, base);
  const write = (bodyCap: number): ReturnType<typeof guards> =>
    guards(metrics, { ...base, bodyCap, concurrency: opts.maxInflight });
  // A long-poll may wait up to 20 s: its timeout is the handler budget plus the longest wait.
  // Receive and redrive take an optional body: a bodyless `curl -X POST` works (SPEC §1.4), a
  // chunked body is still refused before reading.
  const bodyless = { lengthRequired: false, bodyCap: JSON_CAP, concurrency: opts.maxInflight };
  const noChunks = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (req.headers['transfer-encoding'] === undefined) return done();
    metrics.rejection('length_required').inc();
    reply.header('connection', 'close');
    sendError(
      req,
      reply,
      new ApiError('LengthRequired', 'a Content-Length header is required (chunked bodies are not accepted)'),
    );
  };
  const receiveGuard = [
    noChunks,
    guards(metrics, { ...base, ...bodyless, timeoutMs: opts.timeoutMs + MAX_WAIT_MS }),
  ];
  const redriveGuard = [noChunks, guards(metrics, { ...base, ...bodyless })];

  // Enqueue takes raw bytes of any content type; its own scope keeps the JSON parser for the rest.
  void app.register((scope, _o, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: opts.maxMessageBytes },
      (_req, body, next) => next(null, body),
    );
    scope.post(
      '/v1/mailbox/:topic',
      { onRequest: write(opts.maxMessageBytes), bodyLimit: opts.maxMessageBytes },
      async (req, reply) => {
        const topic = topicParam(req);
        const key = idempotencyKey(req);
        query(req, []);
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const r = await mailbox().enqueue(topic, body, key);
        return reply.code(r.duplicate ? 200 : 201).send({ id: r.id });
      },
    );
    done();
  });

  // `curl -d ''` (an empty form body) is how a bodyless POST with a Content-Length is usually sent:
  // accept it as no body; a non-empty form body is still a 415.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: JSON_CAP },
    (_req, raw, next) => {
      if (raw === '') next(null, undefined);
      else
        next(
          new ApiError('UnsupportedMediaType', 'form bodies are not accepted here', {
            hint: 'send application/json',
          }),
          undefined,
        );
    },
  );

  app.post(
    '/v1/mailbox/:topic/receive',
    { onRequest: receiveGuard, bodyLimit: JSON_CAP },
    async (req, reply) => {
      const topic = topicParam(req);
      const q = query(req, ['max', 'visibility', 'wait']);
      jsonBody(req, [], false);
      const max = intIn('max', q.max, 1, 1, MAX_RECEIVE);
      const visibility =
        q.visibility === undefined
          ? opts.defaultVisibilityMs
          : duration('visibility', q.visibility, 1, MAX_VISIBILITY_MS);
      const wait = q.wait === undefined ? 0 : duration('wait', q.wait, 0, MAX_WAIT_MS);
      const messages = await mailbox().receive(topic, max, visibility, wait, (onGone) => {
        reply.raw.once('close', onGone);
      });
      return reply.send({ messages: messages.map(delivery) });
    },
  );

  const receiptRoute = (
    verb: 'ack' | 'nack' | 'extend',
    fields: string[],
    run: (topic: string, rs: string[], o: Record<string, unknown>) => Promise<ReceiptResult>,
    past: string,
  ): void => {
    app.post(
      `/v1/mailbox/:topic/${verb}`,
      { onRequest: write(JSON_CAP), bodyLimit: JSON_CAP },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const topic = topicParam(req);
        query(req, []);
        const o = jsonBody(req, fields, true);
        const rs = receipts(o);
        const r = settled(await run(topic, rs, o), past);
        return reply.send({ [past]: r.count });
      },
    );
  };
  receiptRoute('ack', ['receipts'], (topic, rs) => mailbox().ack(topic, rs), 'acked');
  receiptRoute(
    'nack',
    ['receipts', 'delay'],
    (topic, rs, o) =>
      mailbox().nack(topic, rs, o.delay === undefined ? 0 : duration('delay', o.delay, 0, MAX_VISIBILITY_MS)),
    'nacked',
  );
  receiptRoute(
    'extend',
    ['receipts', 'visibility'],
    (_topic, rs, o) => mailbox().extend(rs, duration('visibility', o.visibility, 1, MAX_VISIBILITY_MS)),
    'extended',
  );

  app.post(
    '/v1/mailbox/:topic/redrive',
    { onRequest: redriveGuard, bodyLimit: JSON_CAP },
    async (req, reply) => {
      const topic = topicParam(req);
      query(req, []);
      const o = jsonBody(req, ['max'], false);
      const max = o.max === undefined ? 1000 : typeof o.max === 'number' ? o.max : NaN;
      if (!Number.isInteger(max) || max < 1 || max > 100_000)
        throw new ApiError('BadRequest', 'max must be an integer 1–100000');
      return reply.send({ redriven: await mailbox().redrive(topic, max) });
    },
  );

  app.get('/v1/mailbox/:topic/dlq', { onRequest: read }, (req, reply) => {
    const topic = topicParam(req);
    const q = query(req, ['limit', 'cursor']);
    const limit = intIn('limit', q.limit, 20, 1, MAX_DLQ_PAGE);
    const after =
      q.cursor === undefined || q.cursor === '' ? 0 : intIn('cursor', q.cursor, 0, 1, 999_999_999);
    const page = mailbox().store.dlq(topic, limit, after);
    return reply.send({
      messages: page.messages.map((m) => ({
        id: m.id,
        body: m.body.toString('base64'),
        attempts: m.attempts,
        enqueued_at: new Date(m.enqueued_at).toISOString(),
        dead_at: new Date(m.dead_at).toISOString(),
        history: m.history.map((a) => ({
          attempt: a.attempt,
          leased_at: new Date(a.leased_at).toISOString(),
          visibility_ms: a.visibility_ms,
          outcome: a.outcome ?? 'expired',
        })),
      })),
      next_cursor: page.next === undefined ? null : String(page.next),
    });
  });

  app.get('/v1/mailbox/:topic', { onRequest: read }, (req, reply) => {
    const topic = topicParam(req);
    query(req, []);
    const store = mailbox().store;
    if (!store.hasTopic(topic))
      throw new ApiError('NotFound', `no topic '${topic}' (nothing was ever enqueued to it)`);
    return reply.send({ topic, ...store.stats(topic) });
  });

  app.get('/v1/mailbox', { onRequest: read }, (req, reply) => {
    query(req, []);
    return reply.send({ topics: mailbox().store.allStats() });
  });
}
