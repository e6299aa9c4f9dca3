import { startProgram, type Logger } from '@ron/kernel';
import { resolve } from 'node:path';
import { createMicronode, type Micronode } from './app.js';
import { effectiveEngine, type MicronodeConfig } from './config.js';

export interface StartMicronodeOptions {
  config: MicronodeConfig;
  logger: Logger;
  /** Install SIGTERM/SIGINT handling (standalone program); a supervisor host handles signals itself. */
  installSignals?: boolean;
}

export interface RunningMicronode {
  readonly url: string;
  readonly node: Micronode;
  close(graceMs?: number): Promise<void>;
}

/** Binds, opens the store and logs the ready line (kernel `startProgram`: exit 65 corrupt, 69 otherwise). */
export async function startMicronode(opts: StartMicronodeOptions): Promise<RunningMicronode> {
  const { config: c } = opts;
  const node = createMicronode({ config: c, logger: opts.logger });
  const engine = effectiveEngine(c);
  const path = resolve(c['storage.path']);
  const url = await startProgram({
    name: 'micronode',
    node,
    bind: c.bind,
    graceMs: c.shutdown_grace,
    logger: opts.logger,
    installSignals: opts.installSignals,
    open: () => node.openStore(),
    store: `the ${engine} store at ${path}`,
    hint: 'check the directory exists and is writable, or set MICRONODE_STORAGE_PATH / --storage-engine mem',
    facts: { engine, path: engine === 'sqlite' ? path : null, dev_routes: c.dev_routes },
    readyText: (u) => `(${engine}${engine === 'sqlite' ? ` ${path}` : ''}); try: curl ${u}/readyz`,
  });
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
