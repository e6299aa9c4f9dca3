import { startProgram, type Logger } from '@ron/kernel';
import { createIndexApp, storePath, type IndexApp } from './app.js';
import type { IndexConfig } from './config.js';

export interface StartIndexOptions {
  config: IndexConfig;
  logger: Logger;
  /** Install SIGTERM/SIGINT handling (standalone program); a supervisor host handles signals itself. */
  installSignals?: boolean;
}

export interface RunningIndex {
  readonly url: string;
  readonly node: IndexApp;
  close(graceMs?: number): Promise<void>;
}

/** Binds, opens the store and logs the ready line (kernel `startProgram`: exit 65 corrupt, 69 otherwise). */
export async function startIndex(opts: StartIndexOptions): Promise<RunningIndex> {
  const { config: c } = opts;
  const node = createIndexApp({ config: c, logger: opts.logger });
  const path = storePath(c);
  const url = await startProgram({
    name: 'svc-index',
    node,
    bind: c.bind,
    graceMs: c.shutdown_grace,
    logger: opts.logger,
    installSignals: opts.installSignals,
    open: () => node.open(),
    store: `the index store at ${path}`,
    hint: 'check the directory exists and is writable, or set INDEX_STORAGE_PATH',
    facts: { path },
    readyText: (u) => `(${path}); try: curl ${u}/v1/index`,
  });
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
