import { EX_UNAVAILABLE, StartupError, installShutdown, listen, parseAddr, type Logger } from '@ron/kernel';
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

/**
 * Binds, opens the store and logs the ready line (`event:"ready"`). The listener is bound before the
 * store opens, so `/readyz` truthfully answers 503 during a slow open. A store that cannot open is a
 * StartupError with exit code 2.
 */
export async function startMicronode(opts: StartMicronodeOptions): Promise<RunningMicronode> {
  const { config: c, logger: log } = opts;
  const node = createMicronode({ config: c, logger: log });
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
  const engine = effectiveEngine(c);
  const path = resolve(c['storage.path']);
  try {
    await node.openStore();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.fatal({ err, engine, path }, 'store cannot open');
    await node.app.close();
    throw new StartupError(
      `the ${engine} store at ${path} cannot open: ${msg}\n` +
        '  check the directory exists and is writable, or set MICRONODE_STORAGE_PATH / --storage-engine mem',
      EX_UNAVAILABLE,
    );
  }
  log.info(
    {
      event: 'ready',
      url,
      engine,
      path: engine === 'sqlite' ? path : null,
      dev_routes: c.dev_routes,
      mode: node.readiness.devForced ? 'dev-forced' : 'truthful',
      startup_ms: Math.round(performance.now() - t0),
    },
    `micronode ready on ${url} (${engine}${engine === 'sqlite' ? ` ${path}` : ''}); try: curl ${url}/readyz`,
  );
  return { url, node, close: (g = c.shutdown_grace) => node.close(g) };
}
