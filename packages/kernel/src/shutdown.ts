import type { Logger } from 'pino';
import type { Readiness } from './readiness.js';

export interface ShutdownOptions {
  logger: Logger;
  readiness?: Readiness;
  /** Grace for in-flight work (ms), default 10 s. */
  graceMs?: number;
  /** Ordered close: stop accepting, drain, close streams, flush stores. */
  close: (graceMs: number) => Promise<void>;
  /** Exit the process when done (default true). */
  exit?: boolean;
}

/**
 * Graceful shutdown on SIGINT/SIGTERM (SPEC §1.7): readiness flips first, then the program's ordered
 * close runs within the grace period, then exit 0 (1 if close failed or overran).
 * Also installs the process-wide guards: an unhandled rejection or exception is logged, never fatal.
 */
export function installShutdown(opts: ShutdownOptions): () => Promise<void> {
  const grace = opts.graceMs ?? 10_000;
  const log = opts.logger;
  let running: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> => {
    if (running) return running;
    running = (async () => {
      log.info({ signal, grace_ms: grace }, 'shutting down: readiness off, draining in-flight work');
      opts.readiness?.markShuttingDown();
      let code = 0;
      const overrun = setTimeout(() => {
        log.error({ grace_ms: grace }, 'shutdown overran its grace period; exiting');
        process.exit(1);
      }, grace + 2000);
      overrun.unref();
      try {
        await opts.close(grace);
      } catch (err) {
        code = 1;
        log.error({ err }, 'error during shutdown');
      }
      clearTimeout(overrun);
      log.info({ code }, 'shutdown complete');
      if (opts.exit ?? true) {
        log.flush();
        process.exit(code);
      }
    })();
    return running;
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  return () => shutdown('api');
}

/** Closes a Fastify app, forcing remaining connections closed after `graceMs`. */
export async function closeWithGrace(
  app: { close(): Promise<unknown>; server: { closeAllConnections(): void } },
  graceMs: number,
): Promise<void> {
  const t = setTimeout(() => app.server.closeAllConnections(), graceMs);
  t.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(t);
  }
}
