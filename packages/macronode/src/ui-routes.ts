import { ApiError, methodNotAllowed, sendError } from '@ron/kernel';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { AdminHost } from './admin-host.js';

// The operator console: static files from packages/macronode/ui/ (hand-written, no build
// step) plus read-only JSON routes the page needs. Every action on the page uses the existing admin
// POST routes with their auth; nothing here changes state.

const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// No inline script or style anywhere: the page's own files only, same-origin fetch/SSE.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Reads every console file once at start-up (with its gzip and ETag). */
export function loadConsoleAssets(dir = UI_DIR): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    out.set(name, { type, body, gzip: gzipSync(body, { level: 9 }), etag });
  }
  return out;
}

/** What the console shows per plane: read-only GET paths on the plane's own listener (SPEC §2, §4.5). */
const PLANE_VIEWS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  registry: {
    stats: '/registry/stats',
    descriptors: '/v1/registry/descriptors?limit=200',
    proposals: '/v1/registry/proposals?limit=100',
  },
  storage: { stats: '/v1/cas/stats', corrupt: '/v1/cas?state=corrupt&limit=50' },
  index: { names: '/v1/index?limit=50' },
  mailbox: { topics: '/v1/mailbox' },
};

/** Plane streams the console may follow (proxied same-origin: the page never talks to the gateway). */
const PLANE_STREAMS: Readonly<Record<string, string>> = { registry: '/registry/stream' };

const VIEW_TIMEOUT_MS = 3000;

async function getJson(url: string): Promise<unknown> {
  try {
    const r = await fetch(url, {
      signal: AbortSignal.timeout(VIEW_TIMEOUT_MS),
      headers: { accept: 'application/json' },
    });
    const text = await r.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // not JSON: shown as text
    }
    return r.ok ? body : { error: { status: r.status, body } };
  } catch (err) {
    return { error: { status: 0, message: (err as Error).message } };
  }
}

export interface UiRoutesOptions {
  /** The admin GET guard (rate limit + timeout). */
  guard: onRequestHookHandler;
  /** The admin stream guard (rate limit, no timeout). */
  streamGuard: onRequestHookHandler;
}

/**
 * Registers `GET /ui/` (the console), `GET /api/v1/ui/config` and `GET /api/v1/ui/planes/:plane[/stream]`.
 * @example registerUiRoutes(app, node, { guard: limited, streamGuard: limitedStream })
 */
export function registerUiRoutes(app: FastifyInstance, node: AdminHost, o: UiRoutesOptions): void {
  const assets = loadConsoleAssets();
  if (!assets.has('index.html'))
    node.log.warn({ dir: UI_DIR }, 'operator console files are missing; /ui/ answers 404');

  const serve = (req: FastifyRequest, reply: FastifyReply, name: string): FastifyReply => {
    const a = assets.get(name);
    if (a === undefined) return sendError(req, reply, new ApiError('NotFound', `no console file ${name}`));
    reply
      .header('content-type', a.type)
      .header('etag', a.etag)
      .header('cache-control', 'no-cache')
      .header('vary', 'accept-encoding')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? ''))
      return reply.header('content-encoding', 'gzip').send(a.gzip);
    return reply.send(a.body);
  };

  app.get('/ui', { onRequest: o.guard }, (_req, reply) => reply.redirect('/ui/', 308));
  app.get('/ui/', { onRequest: o.guard }, (req, reply) => serve(req, reply, 'index.html'));
  app.get<{ Params: { file: string } }>('/ui/:file', { onRequest: o.guard }, (req, reply) =>
    serve(req, reply, req.params.file),
  );

  // The effective config with each value's source, secrets redacted (the `config print` rows).
  app.get('/api/v1/ui/config', { onRequest: o.guard }, (_req, reply) => {
    const l = node.loaded;
    const rows = Object.keys(l.schema).map((k) => {
      const f = l.schema[k as keyof typeof l.schema] as { secret?: boolean; doc?: string };
      const raw = (l.config as Record<string, unknown>)[k];
      const src = (l.sources as Record<string, { layer: string; origin: string }>)[k];
      return {
        key: k,
        value: f.secret === true && raw !== undefined && raw !== '' ? '***' : (raw ?? null),
        source:
          src === undefined ? 'default' : src.origin !== '' ? `${src.layer} (${src.origin})` : src.layer,
        secret: f.secret === true,
        doc: f.doc ?? '',
      };
    });
    return reply.send({
      version: node.status().config_version,
      file: l.file ?? null,
      auth: authMode(node),
      rows,
    });
  });

  app.get<{ Params: { plane: string } }>(
    '/api/v1/ui/planes/:plane',
    { onRequest: o.guard },
    async (req, reply) => {
      const p = req.params.plane;
      const st = node.planes.status(p);
      if (st === undefined)
        return sendError(req, reply, new ApiError('NotFound', `plane ${p} is not enabled on this node`));
      const views = PLANE_VIEWS[p] ?? {};
      const url = node.planes.url(p);
      const data: Record<string, unknown> = {};
      await Promise.all(
        Object.entries(views).map(async ([k, path]) => {
          data[k] =
            url === undefined
              ? { error: { status: 503, message: `plane ${p} is ${st.state}` } }
              : await getJson(`${url}${path}`);
        }),
      );
      return reply.send({ plane: p, state: st.state, views: data });
    },
  );

  // A plane's SSE stream, piped through: EventSource's Last-Event-ID resumes across reconnects.
  app.get<{ Params: { plane: string } }>(
    '/api/v1/ui/planes/:plane/stream',
    { onRequest: o.streamGuard },
    async (req, reply) => {
      const p = req.params.plane;
      const path = PLANE_STREAMS[p];
      const url = node.planes.url(p);
      if (path === undefined)
        return sendError(req, reply, new ApiError('NotFound', `plane ${p} has no stream`));
      if (url === undefined)
        return sendError(
          req,
          reply,
          new ApiError('NotReady', `plane ${p} is not running`, { headers: { 'retry-after': '1' } }),
        );
      const abort = new AbortController();
      const lastId = req.headers['last-event-id'];
      let upstream: Response;
      try {
        upstream = await fetch(`${url}${path}`, {
          signal: abort.signal,
          headers: {
            accept: 'text/event-stream',
            ...(typeof lastId === 'string' ? { 'last-event-id': lastId } : {}),
          },
        });
      } catch (err) {
        return sendError(
          req,
          reply,
          new ApiError('NotReady', `plane ${p} stream unavailable: ${(err as Error).message}`, {
            headers: { 'retry-after': '1' },
          }),
        );
      }
      if (!upstream.ok || upstream.body === null) {
        abort.abort();
        return sendError(
          req,
          reply,
          new ApiError('NotReady', `plane ${p} stream answered ${upstream.status}`, {
            headers: { 'retry-after': '1' },
          }),
        );
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-request-id': req.id,
      });
      res.on('close', () => abort.abort());
      try {
        for await (const chunk of upstream.body)
          if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      } catch {
        // upstream gone (plane restarted) or client left: end; the page's EventSource reconnects
      }
      res.end();
    },
  );

  for (const u of [
    '/ui',
    '/ui/',
    '/ui/:file',
    '/api/v1/ui/config',
    '/api/v1/ui/planes/:plane',
    '/api/v1/ui/planes/:plane/stream',
  ])
    methodNotAllowed(app, u, ['GET']);
}

function authMode(node: AdminHost): 'token' | 'loopback' | 'insecure' {
  const c = node.config;
  return c.dev_insecure ? 'insecure' : c.admin_token !== '' ? 'token' : 'loopback';
}
