import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, guards, type GuardOptions, type Logger } from '@ron/kernel';
import type { Readable } from 'node:stream';
import type { CasStore, CorruptChunk, ObjectInfo } from './cas-store.js';
import { StoreError } from './errors.js';
import { isAddress } from './hash.js';
import { dedupRatio, type StorageMetrics } from './metrics.js';
import { parseRange } from './range.js';
import { VerifiedReader } from './verified-reader.js';

const MAX_LIST = 1000;
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface CasRoutesOptions {
  store: () => CasStore;
  metrics: StorageMetrics;
  logger: Logger;
  maxObjectBytes: number;
  maxInflight: number;
  timeoutMs: number;
  /** Called after a delete so the GC runs soon. */
  onDelete?: () => void;
}

function addrParam(req: FastifyRequest): string {
  const { addr } = req.params as { addr: string };
  if (!isAddress(addr))
    throw new ApiError('BadRequest', `invalid address '${addr.slice(0, 80)}'`, {
      hint: 'addresses are b3: followed by 64 lowercase hex digits',
    });
  return addr;
}

function asApiError(err: unknown): unknown {
  return err instanceof StoreError ? err.toApiError() : err;
}

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

async function* empty(): AsyncGenerator<Buffer> {}

/** The `/v1/cas` routes of SPEC §4.5.1, each behind the ingress guards. */
export function casRoutes(app: FastifyInstance, opts: CasRoutesOptions): void {
  const { metrics, store } = opts;
  const log = opts.logger.child({ component: 'cas' });
  const base: GuardOptions = { timeoutMs: opts.timeoutMs };
  const readGuard = guards(metrics, base);
  const writeGuard = guards(metrics, {
    ...base,
    bodyCap: opts.maxObjectBytes,
    concurrency: opts.maxInflight,
  });
  const deleteGuard = guards(metrics, base);

  // The body is never buffered: the raw request stream goes to the store, which enforces the cap.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const onCorrupt = (c: CorruptChunk): void => {
    metrics.verifyFailures.inc();
    log.error(
      { addr: c.addr, chunk: c.idx, chunk_hash: c.hash },
      'stored chunk failed its BLAKE3 check; object marked corrupt',
    );
    store()
      .markCorrupt(Buffer.from(c.hash, 'hex'))
      .catch((err: unknown) => log.error({ err }, 'could not mark the object corrupt'));
  };

  app.post('/v1/cas', { onRequest: writeGuard }, async (req, reply) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const body = (req.body ?? empty()) as AsyncIterable<Buffer>;
    try {
      const r = await store().put(body, declared);
      metrics.bytesIn.inc(r.size);
      metrics.uploads[r.created ? 'created' : 'existing'].inc();
      return reply
        .code(r.created ? 201 : 200)
        .header('location', `/v1/cas/${r.addr}`)
        .header('etag', `"${r.addr}"`)
        .send({ addr: r.addr, size: r.size, chunks: r.chunks });
    } catch (err) {
      metrics.uploads.failed.inc();
      // The rest of the body was not read: the connection cannot be reused.
      if (!(req.raw.readableEnded ?? false)) reply.header('connection', 'close');
      throw asApiError(err);
    }
  });

  app.get('/v1/cas/stats', { onRequest: readGuard }, (_req, reply) => {
    const t = store().totals();
    return reply.send({ ...t, dedup_ratio: dedupRatio(t) });
  });

  app.get('/v1/cas', { onRequest: readGuard }, (req, reply) => {
    const q = query(req, ['limit', 'cursor', 'state']);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
      throw new ApiError('BadRequest', `limit must be an integer 1–${MAX_LIST}`);
    const state = q.state;
    if (state !== undefined && state !== 'ok' && state !== 'corrupt')
      throw new ApiError('BadRequest', "state must be 'ok' or 'corrupt'");
    const after = q.cursor ?? '';
    if (after !== '' && !isAddress(after))
      throw new ApiError('BadRequest', 'invalid cursor', { hint: 'pass next_cursor back unchanged' });
    const rows = store().list({ after, limit: limit + 1, state });
    const more = rows.length > limit;
    const objects = more ? rows.slice(0, limit) : rows;
    return reply.send({ objects, next_cursor: more ? objects[objects.length - 1]!.addr : null });
  });

  const found = (addr: string): ObjectInfo => {
    const o = store().get(addr);
    if (o === undefined) throw new ApiError('NotFound', `no object ${addr}`);
    return o;
  };

  const common = (reply: FastifyReply, addr: string): FastifyReply =>
    reply
      .header('etag', `"${addr}"`)
      .header('cache-control', IMMUTABLE)
      .header('accept-ranges', 'bytes')
      .type('application/octet-stream');

  /** The status, range and headers for a GET/HEAD; undefined range = 304. */
  const plan = (
    req: FastifyRequest,
    reply: FastifyReply,
    o: ObjectInfo,
  ): { start: number; end: number } | undefined => {
    common(reply, o.addr);
    const inm = req.headers['if-none-match'];
    if (
      inm !== undefined &&
      (inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${o.addr}"`))
    ) {
      reply.code(304);
      return undefined;
    }
    const r = parseRange(req.headers.range, o.size);
    if (r === 'unsatisfiable') {
      throw new ApiError(
        'RangeNotSatisfiable',
        `range '${String(req.headers.range).slice(0, 80)}' is not satisfiable for ${o.size} bytes`,
        {
          headers: { 'content-range': `bytes */${o.size}` },
        },
      );
    }
    if (r === undefined) {
      reply.code(200).header('content-length', String(o.size));
      return { start: 0, end: o.size - 1 };
    }
    reply
      .code(206)
      .header('content-range', `bytes ${r.start}-${r.end}/${o.size}`)
      .header('content-length', String(r.end - r.start + 1));
    return r;
  };

  // HEAD before GET so Fastify does not derive a body-reading HEAD route.
  app.head('/v1/cas/:addr', { onRequest: readGuard }, (req, reply) => {
    const o = found(addrParam(req));
    plan(req, reply, o);
    return reply.send();
  });

  app.get('/v1/cas/:addr', { onRequest: readGuard }, async (req, reply) => {
    const o = found(addrParam(req));
    const range = plan(req, reply, o);
    if (range === undefined) return reply.send();
    let stream: Readable;
    try {
      stream = await new VerifiedReader(store(), o.addr, range, onCorrupt).open();
    } catch (err) {
      // Nothing sent yet: the answer is the error, not the object's headers.
      reply
        .removeHeader('content-range')
        .removeHeader('content-length')
        .removeHeader('etag')
        .removeHeader('cache-control');
      throw asApiError(err);
    }
    let sent = 0;
    stream.on('data', (b: Buffer) => (sent += b.length));
    stream.once('error', (err) => {
      // Mid-stream: the socket is aborted, the client sees a short body, never wrong bytes.
      log.warn({ addr: o.addr, request_id: req.id, sent, err: err.message }, 'read aborted mid-stream');
      reply.raw.destroy();
    });
    stream.once('end', () => metrics.bytesOut.inc(sent));
    return reply.send(stream);
  });

  app.delete('/v1/cas/:addr', { onRequest: deleteGuard }, async (req, reply) => {
    const addr = addrParam(req);
    if (!(await store().delete(addr))) throw new ApiError('NotFound', `no object ${addr}`);
    opts.onDelete?.();
    return reply.code(204).send();
  });
}
