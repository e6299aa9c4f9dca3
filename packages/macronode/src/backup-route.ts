// `POST /api/v1/backup` (admin POST auth): a verified backup of every plane's store into a new
// directory (default data_dir/backups/<UTC time>), for scheduled backups (deploy/systemd/ron-backup.*).
// `?progress=1` streams NDJSON progress lines before the final result (what `macronode backup` shows).
import { isAbsolute, join, resolve } from 'node:path';
import { ApiError, StartupError, registerBackupMetrics, sendError } from '@ron/kernel';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { AdminHost } from './admin-host.js';
import { NODE_REGISTRY_ID } from './planes/registry/plane.js';
import { planeModule } from './planes/table.js';

function stamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function registerNodeBackupRoute(
  app: FastifyInstance,
  node: AdminHost,
  onRequest: onRequestHookHandler[],
): void {
  const m = registerBackupMetrics(node.metrics.http.registry);
  app.post<{ Querystring: { progress?: string } }>('/api/v1/backup', { onRequest }, async (req, reply) => {
    const cfg = node.config;
    if (cfg.amnesia)
      return sendError(
        req,
        reply,
        new ApiError('Conflict', 'this node runs with amnesia: no plane keeps anything on disk'),
      );
    let out: string;
    try {
      const raw =
        Buffer.isBuffer(req.body) && req.body.length > 0
          ? (JSON.parse(req.body.toString('utf8')) as unknown)
          : {};
      const o = (raw ?? {}) as { out?: unknown };
      if (typeof raw !== 'object' || Array.isArray(raw) || Object.keys(o).some((k) => k !== 'out'))
        throw new Error('the body is {"out": "/absolute/dir"} or empty');
      if (o.out !== undefined && (typeof o.out !== 'string' || !isAbsolute(o.out)))
        throw new Error('"out" must be an absolute directory path that does not exist yet');
      out = typeof o.out === 'string' ? o.out : join(resolve(cfg.data_dir), 'backups', stamp());
    } catch (err) {
      return sendError(req, reply, new ApiError('BadRequest', (err as Error).message));
    }
    const sources = node.planes
      .names()
      // Planes that keep a store: each serves one snapshot file on its admin `GET /backup`.
      .filter((n) => planeModule(n)?.store !== undefined)
      .map((n) => ({ n, st: node.planes.status(n)! }));
    const down = sources.filter((s) => s.st.state !== 'running' || s.st.url === null);
    if (down.length > 0) {
      return sendError(
        req,
        reply,
        new ApiError(
          'NotReady',
          `plane ${down.map((s) => `${s.n} (${s.st.state})`).join(', ')} is not running: a backup needs every store`,
          {
            headers: { 'retry-after': '5' },
          },
        ),
      );
    }
    const list = sources.map((s) => ({
      plane: s.n,
      adminUrl: typeof s.st.info.admin_url === 'string' ? s.st.info.admin_url : s.st.url!,
      // The registry plane's genesis signer set: the backup audits every signature against it.
      ...(s.n === 'registry' && typeof s.st.info.signer_id === 'string'
        ? {
            audit: {
              registryId: NODE_REGISTRY_ID,
              signers: [s.st.info.signer_id],
              threshold: Number(s.st.info.threshold),
            },
          }
        : {}),
    }));
    const streaming = req.query.progress === '1';
    reply.hijack();
    const res = reply.raw;
    if (streaming)
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'x-request-id': req.id,
        'cache-control': 'no-store',
      });
    const { backupNode } = await import('./backup.js');
    let last = 0;
    try {
      const manifest = await backupNode(list, out, (p) => {
        const now = Date.now();
        if (!streaming || (now - last < 200 && p.bytes !== p.total)) return;
        last = now;
        res.write(`${JSON.stringify({ progress: p })}\n`);
      });
      m.success();
      req.log.info(
        { event: 'backup_done', out, planes: Object.keys(manifest.planes) },
        `backup written to ${out}`,
      );
      const body = JSON.stringify({ ok: true, out, manifest });
      if (streaming) res.end(`${body}\n`);
      else res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': req.id }).end(body);
    } catch (err) {
      m.failure();
      const msg = err instanceof Error ? err.message : String(err);
      req.log.error({ event: 'backup_failed', out, err: msg }, `backup failed: ${msg}`);
      const status = err instanceof StartupError && err.exitCode === 64 ? 409 : 503;
      const code = status === 409 ? 'Conflict' : 'StoreUnavailable';
      const body = JSON.stringify({
        error: {
          code,
          message: msg,
          hint: 'nothing was written; see the node log',
          retryable: status === 503,
          ts: new Date().toISOString(),
          request_id: req.id,
        },
      });
      if (streaming) res.end(`${body}\n`);
      else res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': req.id }).end(body);
    }
  });
}
