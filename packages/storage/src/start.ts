import { startProgram, type Logger } from '@ron/kernel';
import { resolve } from 'node:path';
import { createStorageNode, type StorageNode } from './app.js';
import type { StorageConfig } from './config.js';

export interface StartStorageOptions {
  config: StorageConfig;
  logger: Logger;
  /** Install SIGTERM/SIGINT handling (standalone program); a supervisor host handles signals itself. */
  installSignals?: boolean;
}

export interface RunningStorage {
  readonly url: string;
  readonly node: StorageNode;
  close(graceMs?: number): Promise<void>;
}

/** Binds, opens the store and logs the ready line (kernel `startProgram`: exit 65 corrupt, 69 otherwise). */
export async function startStorage(opts: StartStorageOptions): Promise<RunningStorage> {
  const { config: c } = opts;
  const node = createStorageNode({ config: c, logger: opts.logger });
  const dir = resolve(c.data_dir);
  const url = await startProgram({
    name: 'svc-storage',
    node,
    bind: c.bind,
    graceMs: c.shutdown_grace,
    logger: opts.logger,
    installSignals: opts.installSignals,
    open: () => node.openStore(),
    store: `the store at ${dir}`,
    hint: 'check the directory is writable and not used by another svc-storage',
    facts: {
      data_dir: dir,
      max_object_bytes: c['storage.max_object_bytes'],
      max_bytes: c['storage.max_bytes'],
    },
    readyText: (u) => `(${dir}); try: curl --data-binary @FILE ${u}/v1/cas`,
  });
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
