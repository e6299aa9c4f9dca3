import { StartupError, installShutdown, listen, parseAddr, type Logger } from '@ron/kernel';
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

/**
 * Binds, opens the store and logs the ready line (`event:"ready"`). The listener is bound first so
 * `/readyz` truthfully answers 503 while the store opens. A store that cannot open is exit 69
 * (locked by another process or unreadable), 65 when SQLite reports it corrupt.
 */
export async function startStorage(opts: StartStorageOptions): Promise<RunningStorage> {
  const { config: c, logger: log } = opts;
  const node = createStorageNode({ config: c, logger: log });
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
  const dir = resolve(c.data_dir);
  try {
    node.openStore();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.fatal({ err, dir }, 'store cannot open');
    await node.app.close();
    const corrupt =
      (err as { code?: string }).code === 'SQLITE_CORRUPT' ||
      (err as { code?: string }).code === 'SQLITE_NOTADB';
    throw new StartupError(
      `the store at ${dir} cannot open: ${msg}\n  check the directory is writable and not used by another svc-storage`,
      corrupt ? 65 : 69,
    );
  }
  log.info(
    {
      event: 'ready',
      url,
      data_dir: dir,
      max_object_bytes: c['storage.max_object_bytes'],
      max_bytes: c['storage.max_bytes'],
      mode: node.readiness.devForced ? 'dev-forced' : 'truthful',
      startup_ms: Math.round(performance.now() - t0),
    },
    `svc-storage ready on ${url} (${dir}); try: curl --data-binary @FILE ${url}/v1/cas`,
  );
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
