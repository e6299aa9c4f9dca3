import type { FastifyInstance } from 'fastify';
import { resolve } from 'node:path';
import {
  ApiError,
  Readiness,
  TokenBucket,
  buildInfo,
  closeWithGrace,
  createServer,
  registerAdmin,
  type Logger,
} from '@ron/kernel';
import type { MailboxConfig } from './config.js';
import { Mailbox } from './mailbox.js';
import { MailboxStore } from './mailbox-store.js';
import { MailboxMetrics } from './metrics.js';
import { mailboxRoutes } from './routes.js';

export interface MailboxApp {
  readonly app: FastifyInstance;
  readonly metrics: MailboxMetrics;
  readonly readiness: Readiness;
  /** Opens the store; readiness turns true only after this. Throws if it cannot open. */
  open(): MailboxStore;
  /** Marks the listener bound (after `listen`). */
  markListening(): void;
  /**
   * Ordered close: answer waiting receivers at once (empty lists), stop accepting, drain in-flight
   * requests within `graceMs`, commit what is queued and close the store.
   */
  close(graceMs: number): Promise<void>;
}

export interface MailboxAppOptions {
  config: MailboxConfig;
  logger: Logger;
  /** Default process collectors (off when many apps share one test process). */
  defaultCollectors?: boolean;
}

/** The store path actually used: amnesia keeps an in-memory SQLite store. */
export function storePath(c: MailboxConfig): string {
  return c.amnesia ? ':memory:' : resolve(c['storage.path']);
}

/** Builds the svc-mailbox app without binding or opening anything. */
export function createMailboxApp(opts: MailboxAppOptions): MailboxApp {
  const { config: c, logger } = opts;
  let mailbox: Mailbox | undefined;
  const metrics = new MailboxMetrics({
    defaultCollectors: opts.defaultCollectors ?? true,
    topicCap: c['mailbox.metrics_topic_cap'],
    stats: () => (mailbox?.store.isOpen() === true ? mailbox.store.allStats() : []),
    waiting: () => mailbox?.waiting ?? 0,
  });
  const readiness = new Readiness({ devForced: c.dev_ready });
  const setListening = readiness.flag('listeners_bound');
  readiness.probe('cfg_loaded', () => true);
  const setMetrics = readiness.flag('metrics_bound');
  readiness.probe('deps_ok', () => mailbox?.store.isOpen() ?? false);

  const app = createServer({ logger, metrics, bodyLimit: c['mailbox.max_message_bytes'] });
  const b = buildInfo();
  const version = {
    name: 'svc-mailbox',
    version: b.version,
    commit: b.commit,
    built_at_unix: b.built_at_unix,
  };
  registerAdmin(app, {
    readiness,
    metrics,
    version: () => version,
    health: () => ({ ok: true }),
    readyBody: (r) => ({
      ready: r.ready,
      probes: r.probes,
      mode: r.mode,
      ...(r.failing.length > 0 ? { failing: r.failing } : {}),
    }),
    readyBodyFromReportOnly: true,
  });

  const rps = c['rate_limit.rps'];
  const rateLimit =
    rps > 0 ? new TokenBucket({ rps, burst: c['rate_limit.burst'] || Math.ceil(rps) }) : undefined;
  mailboxRoutes(app, {
    mailbox: () => {
      if (mailbox === undefined || !mailbox.store.isOpen())
        throw new ApiError('NotReady', 'the mailbox store is not open', {
          hint: 'check /readyz; retry shortly',
        });
      return mailbox;
    },
    metrics,
    maxMessageBytes: c['mailbox.max_message_bytes'],
    defaultVisibilityMs: c['mailbox.default_visibility'],
    maxInflight: c['limits.max_inflight'],
    timeoutMs: c['limits.request_timeout'],
    rateLimit,
  });

  return {
    app,
    metrics,
    readiness,
    open() {
      const store = new MailboxStore({
        path: storePath(c),
        maxReceives: c['mailbox.max_receives'],
        dedupWindowMs: c['mailbox.dedup_window'],
      });
      mailbox = new Mailbox({ store, metrics, logger, sweepIntervalMs: c['mailbox.sweep_interval'] });
      return store;
    },
    markListening() {
      setListening(true);
      setMetrics(true);
    },
    async close(graceMs) {
      readiness.markShuttingDown();
      mailbox?.close();
      // Let the answered long-polls write their responses before the server starts closing.
      await new Promise((r) => setImmediate(r));
      await closeWithGrace(app, graceMs);
      mailbox?.store.close();
    },
  };
}
