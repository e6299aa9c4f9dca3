import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, durableWriteError, guards, type GuardOptions } from '@ron/kernel';
import type { Binding, IndexStore, Precondition } from './index-store.js';
import type { IndexMetrics } from './metrics.js';

const NAME = /^[a-z0-9][a-z0-9._/-]{0,255}$/;
const ADDR = /^b3:[0-9a-f]{64}$/;
/** Sub-resources of a name: a name cannot end with one of these segments. */
const SUB = new Set(['history', 'content']);
const MAX_LIST = 1000;
const MAX_META_BYTES = 8 * 1024;

/** A write the store could not apply: 507 on a full disk, 503 on I/O trouble, else a 500. */
function storeFailed(err: unknown): never {
  throw durableWriteError(err) ?? err;
}

export interface IndexRoutesOptions {
  store: () => IndexStore;
  metrics: IndexMetrics;
  bodyCap: number;
  maxInflight: number;
  timeoutMs: number;
}

function checkName(name: string): string {
  const segs = name.split('/');
  if (!NAME.test(name) || segs.some((s) => s === '' || s === '..' || s === '.'))
    throw new ApiError('BadRequest', `invalid name '${name.slice(0, 80)}'`, {
      hint: 'names match ^[a-z0-9][a-z0-9._/-]{0,255}$ with no empty, "." or ".." segment',
    });
  if (SUB.has(segs[segs.length - 1]!))
    throw new ApiError(
      'BadRequest',
      `a name cannot end with /${segs[segs.length - 1]!} (reserved for the sub-resource)`,
    );
  return name;
}

/** Parses If-Match / If-None-Match into versions or '*'; a tag that is no version matches nothing. */
function tags(h: string | undefined): '*' | number[] | undefined {
  if (h === undefined) return undefined;
  if (h.trim() === '*') return '*';
  return h
    .split(',')
    .map((s) =>
      s
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((s) => /^\d{1,15}$/.test(s))
    .map(Number);
}

function precondition(req: FastifyRequest): Precondition {
  const c: Precondition = {};
  const im = tags(req.headers['if-match']);
  const inm = tags(req.headers['if-none-match']);
  if (im !== undefined) c.ifMatch = im;
  if (inm !== undefined) c.ifNoneMatch = inm;
  return c;
}

function query<K extends string>(req: FastifyRequest, names: readonly K[]): Partial<Record<K, string>> {
  const q = req.query as Record<string, unknown>;
  const out: Partial<Record<K, string>> = {};
  for (const [k, v] of Object.entries(q)) {
    if (!(names as readonly string[]).includes(k))
      throw new ApiError('BadRequest', `unknown query parameter '${k.slice(0, 40)}'`);
    if (typeof v !== 'string') throw new ApiError('BadRequest', `query parameter '${k}' must be given once`);
    out[k as K] = v;
  }
  return out;
}

function limitOf(v: string | undefined, def: number, max: number): number {
  if (v === undefined) return def;
  const n = /^\d{1,6}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new ApiError('BadRequest', `limit must be an integer 1–${max}`);
  return n;
}

const encodeCursor = (name: string): string => Buffer.from(name, 'utf8').toString('base64url');
function decodeCursor(c: string): string {
  const name = Buffer.from(c, 'base64url').toString('utf8');
  if (name === '' || encodeCursor(name) !== c)
    throw new ApiError('BadRequest', 'invalid cursor', { hint: 'pass next_cursor back unchanged' });
  return name;
}

const view = (b: Binding): Record<string, unknown> => ({
  name: b.name,
  addr: b.addr,
  meta: b.meta,
  version: b.version,
  updated_at: new Date(b.updated_at).toISOString(),
});

/** The index API of SPEC §4.5.2, every route behind the ingress guards. */
export function indexRoutes(app: FastifyInstance, opts: IndexRoutesOptions): void {
  const { metrics, store } = opts;
  const base: GuardOptions = { timeoutMs: opts.timeoutMs };
  const read = guards(metrics, base);
  const write = (): ReturnType<typeof guards> =>
    guards(metrics, { ...base, bodyCap: opts.bodyCap, concurrency: opts.maxInflight });
  const notFound = (name: string): ApiError => new ApiError('NotFound', `no name '${name.slice(0, 80)}'`);
  const failed = (name: string): ApiError =>
    new ApiError('PreconditionFailed', `precondition failed for '${name.slice(0, 80)}'`, {
      hint: 'read the current ETag and retry with If-Match',
    });

  app.get('/v1/index/*', { onRequest: read }, (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    const segs = path.split('/');
    const last = segs[segs.length - 1]!;
    if (segs.length > 1 && SUB.has(last)) {
      const name = checkName(segs.slice(0, -1).join('/'));
      if (last === 'history') {
        const q = query(req, ['limit']);
        metrics.ops.history.inc();
        const versions = store().history(name, limitOf(q.limit, 20, 1000));
        if (versions.length === 0) throw notFound(name);
        return reply.send({
          name,
          versions: versions.map((v) => ({
            version: v.version,
            addr: v.addr,
            meta: v.meta,
            at: new Date(v.at).toISOString(),
            deleted: v.addr === null,
          })),
        });
      }
      query(req, []);
      metrics.ops.content.inc();
      const b = store().get(name);
      if (b === undefined) throw notFound(name);
      return reply.code(307).header('location', `/v1/cas/${b.addr}`).header('etag', `"${b.version}"`).send();
    }
    const name = checkName(path);
    query(req, []);
    metrics.ops.get.inc();
    const b = store().get(name);
    if (b === undefined) throw notFound(name);
    reply.header('etag', `"${b.version}"`);
    const inm = tags(req.headers['if-none-match']);
    if (inm !== undefined && (inm === '*' || inm.includes(b.version))) return reply.code(304).send();
    return reply.send(view(b));
  });

  app.put(
    '/v1/index/*',
    { onRequest: write(), bodyLimit: opts.bodyCap },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const name = checkName((req.params as { '*': string })['*']);
      query(req, []);
      const ct = req.headers['content-type'] ?? '';
      if (!/^application\/json\s*(;|$)/i.test(ct))
        throw new ApiError('UnsupportedMediaType', 'send the binding as application/json');
      const b = req.body;
      if (typeof b !== 'object' || b === null || Array.isArray(b))
        throw new ApiError('BadRequest', 'the body must be a JSON object {addr, meta?}');
      const o = b as Record<string, unknown>;
      for (const k of Object.keys(o))
        if (k !== 'addr' && k !== 'meta')
          throw new ApiError('BadRequest', `unknown field '${k.slice(0, 40)}'`);
      if (typeof o.addr !== 'string' || !ADDR.test(o.addr))
        throw new ApiError('BadRequest', 'addr must be a content address "b3:<64 lowercase hex>"');
      if (o.meta !== undefined && (typeof o.meta !== 'object' || o.meta === null || Array.isArray(o.meta)))
        throw new ApiError('BadRequest', 'meta must be a JSON object');
      if (o.meta !== undefined && Buffer.byteLength(JSON.stringify(o.meta)) > MAX_META_BYTES)
        throw new ApiError('BadRequest', `meta must be at most ${MAX_META_BYTES} bytes of JSON`);
      metrics.ops.put.inc();
      const r = await store().put(name, o.addr, o.meta, precondition(req)).catch(storeFailed);
      if (r.kind === 'precondition_failed') {
        metrics.casFailures.inc();
        throw failed(name);
      }
      return reply
        .code(r.kind === 'created' ? 201 : 200)
        .header('etag', `"${r.version}"`)
        .send({ name, addr: o.addr, meta: o.meta ?? null, version: r.version });
    },
  );

  app.delete('/v1/index/*', { onRequest: write() }, async (req, reply) => {
    const name = checkName((req.params as { '*': string })['*']);
    query(req, []);
    metrics.ops.delete.inc();
    const r = await store().delete(name, precondition(req)).catch(storeFailed);
    if (r === 'not_found') throw notFound(name);
    if (r === 'precondition_failed') {
      metrics.casFailures.inc();
      throw failed(name);
    }
    return reply.code(204).send();
  });

  app.get('/v1/index', { onRequest: read }, (req, reply) => {
    const q = query(req, ['prefix', 'limit', 'cursor']);
    const prefix = q.prefix ?? '';
    if (prefix !== '' && !/^[a-z0-9._/-]{1,256}$/.test(prefix))
      throw new ApiError('BadRequest', 'invalid prefix');
    const limit = limitOf(q.limit, 100, MAX_LIST);
    const after = q.cursor === undefined || q.cursor === '' ? undefined : decodeCursor(q.cursor);
    metrics.ops.list.inc();
    const page = store().list(prefix, limit, after);
    return reply.send({
      names: page.names.map(view),
      next_cursor: page.last === undefined ? null : encodeCursor(page.last),
    });
  });
}
