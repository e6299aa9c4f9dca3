import { startProgram, type Logger } from '@ron/kernel';
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

/** Binds, opens the store and logs the ready line (kernel `startProgram`: exit 65 corrupt, 69 otherwise). */
export async function startMailbox(opts: StartMailboxOptions): Promise<RunningMailbox> {
  const { config: c } = opts;
  const node = createMailboxApp({ config: c, logger: opts.logger });
  const path = storePath(c);
  const url = await startProgram({
    name: 'svc-mailbox',
    node,
    bind: c.bind,
    graceMs: c.shutdown_grace,
    logger: opts.logger,
    installSignals: opts.installSignals,
    open: () => node.open(),
    store: `the mailbox store at ${path}`,
    hint: 'check the directory exists and is writable, or set MAILBOX_STORAGE_PATH',
    facts: { path },
    readyText: (u) => `(${path}); try: curl -X POST --data-binary hello ${u}/v1/mailbox/demo`,
  });
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
