// `GET /backup` on a program's admin listener: a consistent snapshot of its store, streamed.
import { createReadStream, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Gauge, Counter, type Registry } from 'prom-client';
import { ApiError } from './errors.js';
import { isLoopbackHost } from './listen.js';
import { sendError } from './reply.js';

export interface BackupRouteOptions {
  /**
   * Writes a consistent snapshot of the store to the new file `dest` and returns what the client
   * should record about it (head, counts…); undefined when the store has nothing to back up
   * (amnesia / in-memory) or is not open yet.
   */
  snapshot?: () => ((dest: string) => Promise<Record<string, string | number | boolean | null>>) | undefined;
  metrics: Registry;
}

/** Names of the backup series every program with a store exports (alerts: deploy/prometheus). */
export const BACKUP_METRICS = {
  lastSuccess: 'ron_backup_last_success_timestamp_seconds',
  failures: 'ron_backup_failures_total',
} as const;

export interface BackupMetrics {
  success(): void;
  failure(): void;
}

/** Registers the backup series (last success as unix seconds, 0 until the first; failures). */
export function registerBackupMetrics(registry: Registry): BackupMetrics {
  for (const n of Object.values(BACKUP_METRICS))
    if (registry.getSingleMetric(n)) registry.removeSingleMetric(n);
  const last = new Gauge({
    name: BACKUP_METRICS.lastSuccess,
    help: 'Unix time of the last successful backup (0: none yet)',
    registers: [registry],
  });
  const failures = new Counter({
    name: BACKUP_METRICS.failures,
    help: 'Backups that failed',
    registers: [registry],
  });
  last.set(0);
  failures.inc(0);
  return {
    success: () => last.set(Date.now() / 1000),
    failure: () => failures.inc(),
  };
}

/**
 * `GET /backup`: snapshots the store into a temp file and streams it (`application/vnd.sqlite3`,
 * `Content-Length`, the snapshot's facts as JSON in `x-ron-backup-meta`), then deletes the file.
 * Only loopback peers (judged from the socket, never from a header) may take one: the admin listener
 * is often reachable by a metrics scraper, and a snapshot is the whole store.
 */
export function registerBackupRoute(app: FastifyInstance, opts: BackupRouteOptions): BackupMetrics {
  const m = registerBackupMetrics(opts.metrics);
  app.get('/backup', async (req, reply) => {
    if (!isLoopbackHost(req.socket.remoteAddress ?? '')) {
      return sendError(
        req,
        reply,
        new ApiError('Forbidden', 'backups are served to loopback callers only', {
          hint: 'run the backup command on the host itself',
        }),
      );
    }
    const take = opts.snapshot?.();
    if (take === undefined) {
      return sendError(
        req,
        reply,
        new ApiError(
          'Conflict',
          'this store keeps nothing on disk (amnesia / in-memory) or is not open yet: there is nothing to back up',
        ),
      );
    }
    const dir = await mkdtemp(join(tmpdir(), 'ron-backup-'));
    const file = join(dir, 'snapshot.db');
    let meta: Record<string, string | number | boolean | null>;
    try {
      meta = await take(file);
    } catch (err) {
      m.failure();
      await rm(dir, { recursive: true, force: true });
      req.log.error({ err }, 'backup snapshot failed');
      return sendError(
        req,
        reply,
        new ApiError(
          'StoreUnavailable',
          `the snapshot failed: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
    }
    const size = statSync(file).size;
    const stream = createReadStream(file);
    stream.on('close', () => {
      void rm(dir, { recursive: true, force: true });
    });
    reply.raw.on('finish', () => m.success());
    req.log.info({ event: 'backup_served', bytes: size, ...meta }, 'backup snapshot served');
    return reply
      .header('content-type', 'application/vnd.sqlite3')
      .header('content-length', String(size))
      .header('cache-control', 'no-store')
      .header('x-ron-backup-meta', JSON.stringify(meta))
      .send(stream);
  });
  return m;
}
