import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, TokenBucket, durableWriteError, guards, type GuardOptions } from '@ron/kernel';
import { etagOf, parseTagList } from './etag.js';
import type { DeleteResult, KvStore, PutResult } from './kv-store.js';
import type { MicronodeMetrics } from './metrics.js';

const BUCKET = /^[a-z0-9][a-z0-9._-]{0,62}$/;
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MAX_LIST = 1000;
/** The KV item route (also the metrics label of requests answered before routing, see app.ts). */
// The 413 names the setting that raises the cap.
const BODY_CAP_HINT =
  'raise the body cap: --max-body-bytes or MICRONODE_MAX_BODY_BYTES (limits.max_body_bytes; under macronode: kv.max_body_bytes)';

export const KV_ITEM_ROUTE = '/v1/kv/:bucket/:key';

export interface KvRoutesOptions {
  store: () => KvStore;
  metrics: MicronodeMetrics;
  bodyCap: number;
  maxInflight: number;
  timeoutMs: number;
  rateLimit: TokenBucket | undefined;
}

interface KvParams {
  bucket: string;
  key: string;
}

function checkBucket(bucket: string): void {
  if (!BUCKET.test(bucket))
    throw new ApiError('BadRequest', `invalid bucket '${bucket.slice(0, 80)}'`, {
      hint: 'buckets match ^[a-z0-9][a-z0-9._-]{0,62}$',
    });
}

function checkKey(key: string): void {
  const n = Buffer.byteLength(key, 'utf8');
  if (n < 1 || n > 1024) throw new ApiError('BadRequest', `key must be 1–1024 bytes of UTF-8 (got ${n})`);
  if (CONTROL.test(key)) throw new ApiError('BadRequest', 'key must not contain control characters');
  if (key.includes('\uFFFD')) throw new ApiError('BadRequest', 'key must be valid UTF-8');
}

function params(req: FastifyRequest): KvParams {
  const p = req.params as KvParams;
  checkBucket(p.bucket);
  checkKey(p.key);
  return p;
}

function conds(req: FastifyRequest): {
  ifMatch: '*' | string[] | undefined;
  ifNoneMatch: '*' | string[] | undefined;
} {
  return {
    ifMatch: parseTagList(req.headers['if-match']),
    ifNoneMatch: parseTagList(req.headers['if-none-match']),
  };
}

/** The named query parameters as single strings; a repeated one is a 400, not a crash. */
function query<K extends string>(req: FastifyRequest, names: readonly K[]): Partial<Record<K, string>> {
  const q = req.query as Record<string, unknown>;
  const out: Partial<Record<K, string>> = {};
  for (const n of names) {
    const v = q[n];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new ApiError('BadRequest', `query parameter '${n}' must be given once`);
    out[n] = v;
  }
  return out;
}

/** A write the store could not apply: 507 on a full disk, 503 on I/O trouble, else a 500. */
function storeFailed(err: unknown): never {
  throw durableWriteError(err) ?? err;
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(c: string): string {
  const key = Buffer.from(c, 'base64url').toString('utf8');
  if (key === '' || encodeCursor(key) !== c)
    throw new ApiError('BadRequest', 'invalid cursor', { hint: 'pass next_cursor back unchanged' });
  return key;
}

/** KV routes of SPEC §3, each behind the ingress guards. */
export function kvRoutes(app: FastifyInstance, opts: KvRoutesOptions): void {
  const { metrics, store } = opts;
  const inflight = (d: 1 | -1): void => metrics.inflightDelta(d);
  const base: GuardOptions = { timeoutMs: opts.timeoutMs, rateLimit: opts.rateLimit, onInflight: inflight };
  const readGuard = guards(metrics, base);
  // Each write route carries its own in-flight budget.
  const writeGuard = (): ReturnType<typeof guards> =>
    guards(metrics, {
      ...base,
      bodyCap: opts.bodyCap,
      bodyCapHint: BODY_CAP_HINT,
      concurrency: opts.maxInflight,
    });

  // Raw bytes in: any Content-Type is stored as opaque bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyCap }, (_req, body, done) => {
    done(null, body);
  });

  const tagged = (reply: FastifyReply, etag: string): FastifyReply => reply.header('etag', `"${etag}"`);

  // HEAD before GET so Fastify does not generate a body-reading HEAD route.
  app.head(KV_ITEM_ROUTE, { onRequest: readGuard }, (req, reply) => {
    const { bucket, key } = params(req);
    metrics.kvOps.head.inc();
    const meta = store().head(bucket, key);
    if (!meta) throw new ApiError('NotFound', `no key '${key.slice(0, 80)}' in bucket '${bucket}'`);
    tagged(reply, meta.etag)
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(meta.size));
    const inm = parseTagList(req.headers['if-none-match']);
    if (inm !== undefined && (inm === '*' || inm.includes(meta.etag))) return reply.code(304).send();
    return reply.send();
  });

  app.get(KV_ITEM_ROUTE, { onRequest: readGuard }, (req, reply) => {
    const { bucket, key } = params(req);
    metrics.kvOps.get.inc();
    const e = store().get(bucket, key);
    if (!e) throw new ApiError('NotFound', `no key '${key.slice(0, 80)}' in bucket '${bucket}'`);
    tagged(reply, e.etag);
    const inm = parseTagList(req.headers['if-none-match']);
    if (inm !== undefined && (inm === '*' || inm.includes(e.etag))) return reply.code(304).send();
    metrics.bytesOut.inc(e.value.length);
    return reply.type('application/octet-stream').send(e.value);
  });

  // A write is answered only once it is durable: on sqlite the store's promise settles after the
  // group commit holding it returned (SPEC §6 "Durable writes").
  app.put(KV_ITEM_ROUTE, { onRequest: writeGuard(), bodyLimit: opts.bodyCap }, (req, reply) => {
    const { bucket, key } = params(req);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const etag = etagOf(body);
    metrics.kvOps.put.inc();
    const answer = (r: PutResult): FastifyReply => {
      if (r === 'precondition_failed')
        throw new ApiError('PreconditionFailed', `precondition failed for '${key.slice(0, 80)}'`, {
          hint: 'read the current ETag and retry with If-Match',
        });
      metrics.bytesIn.inc(body.length);
      return tagged(reply, etag)
        .code(r === 'created' ? 201 : 204)
        .send();
    };
    const r = store().put(bucket, key, body, etag, conds(req));
    return typeof r === 'string' ? answer(r) : r.then(answer, storeFailed);
  });

  app.delete(KV_ITEM_ROUTE, { onRequest: writeGuard() }, (req, reply) => {
    const { bucket, key } = params(req);
    metrics.kvOps.del.inc();
    const answer = (r: DeleteResult): FastifyReply => {
      if (r === 'not_found')
        throw new ApiError('NotFound', `no key '${key.slice(0, 80)}' in bucket '${bucket}'`);
      if (r === 'precondition_failed')
        throw new ApiError('PreconditionFailed', `precondition failed for '${key.slice(0, 80)}'`);
      return reply.code(204).send();
    };
    const r = store().delete(bucket, key, conds(req));
    return typeof r === 'string' ? answer(r) : r.then(answer, storeFailed);
  });

  app.get('/v1/kv/:bucket', { onRequest: readGuard }, (req, reply) => {
    const { bucket } = req.params as { bucket: string };
    checkBucket(bucket);
    const q = query(req, ['prefix', 'limit', 'cursor']);
    const prefix = q.prefix ?? '';
    if (Buffer.byteLength(prefix) > 1024 || CONTROL.test(prefix))
      throw new ApiError('BadRequest', 'invalid prefix');
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
      throw new ApiError('BadRequest', `limit must be an integer 1–${MAX_LIST}`);
    const after = q.cursor === undefined || q.cursor === '' ? undefined : decodeCursor(q.cursor);
    metrics.kvOps.list.inc();
    const page = store().list(bucket, prefix, limit, after);
    return reply.send({
      keys: page.keys,
      next_cursor: page.last === undefined ? null : encodeCursor(page.last),
    });
  });
}

export interface DevRoutesOptions {
  metrics: MicronodeMetrics;
  bodyCap: number;
  timeoutMs: number;
  rateLimit: TokenBucket;
}

/** Guard test surfaces (only with MICRONODE_DEV_ROUTES=1). */
export function devRoutes(app: FastifyInstance, opts: DevRoutesOptions): void {
  const { metrics } = opts;
  app.post(
    '/dev/echo',
    {
      onRequest: guards(metrics, {
        bodyCap: opts.bodyCap,
        bodyCapHint: BODY_CAP_HINT,
        timeoutMs: opts.timeoutMs,
      }),
      bodyLimit: opts.bodyCap,
    },
    (req, reply) => reply.send({ echo: req.body ?? null }),
  );
  app.get(
    '/dev/rl',
    { onRequest: guards(metrics, { rateLimit: opts.rateLimit, timeoutMs: opts.timeoutMs }) },
    (_req, reply) => reply.send({ ok: true }),
  );
}
