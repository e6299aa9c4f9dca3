import { StartupError, installShutdown, listen, parseAddr, type Logger } from '@ron/kernel';
import { createMailboxApp, storePath, type MailboxApp } from './app.js';
import type { MailboxConfig } from './config.js';

export interface StartMailboxOptions {
  config: MailboxConfig;
  logger: Logger;
  /** Install SIGTERM/SIGINT handling (standalone program); a supervisor host handles signals itself. */
  installSignals?: boolean;
}

export interface RunningMailbox {
  readonly url: string;
  readonly node: MailboxApp;
  close(graceMs?: number): Promise<void>;
}

/**
 * Binds, opens the store and logs the ready line (`event:"ready"`). The listener is bound before the
 * store opens, so `/readyz` truthfully answers 503 during a slow open. A store that cannot open is a
 * StartupError (exit 69 when another process owns it, 65 when it is corrupt).
 */
export async function startMailbox(opts: StartMailboxOptions): Promise<RunningMailbox> {
  const { config: c, logger: log } = opts;
  const node = createMailboxApp({ config: c, logger: log });
  if (opts.installSignals)
    installShutdown({
      logger: log,
      readiness: node.readiness,
      graceMs: c.shutdown_grace,
      close: (g) => node.close(g),
    });
  const t0 = performance.now();
  const url = await listen(node.app, parseAddr(c.bind)!);
  node.markListening();
  const path = storePath(c);
  try {
    node.open();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.fatal({ err, path }, 'store cannot open');
    await node.app.close();
    const code = /in use by another process/.test(msg) ? 69 : /not a database|malformed/.test(msg) ? 65 : 69;
    throw new StartupError(
      `the mailbox store at ${path} cannot open: ${msg}\n  check the directory exists and is writable, or set MAILBOX_STORAGE_PATH`,
      code,
    );
  }
  log.info(
    {
      event: 'ready',
      url,
      path,
      mode: node.readiness.devForced ? 'dev-forced' : 'truthful',
      startup_ms: Math.round(performance.now() - t0),
    },
    `svc-mailbox ready on ${url} (${path}); try: curl -X POST --data-binary hello ${url}/v1/mailbox/demo`,
  );
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
