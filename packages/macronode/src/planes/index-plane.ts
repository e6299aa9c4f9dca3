import { loadConfig } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ownSeries } from './own-series.js';
import type { PlaneModule } from './plane.js';

/** index: svc-index (SPEC §4.5.2) started through its public entry point, store under data_dir/index. */
export const indexPlane: PlaneModule = {
  name: 'index',
  prefixes: ['/v1/index'],
  tryIt: `curl -X PUT -H 'content-type: application/json' -d '{"addr":"b3:${'0'.repeat(64)}"}' {gateway}/v1/index/demo/hello && curl {gateway}/v1/index/demo/hello`,
  options(c) {
    return {
      path: resolve(c.data_dir, 'index', 'index.db'),
      amnesia: c.amnesia,
      shutdown_grace: c.shutdown_grace,
    };
  },
  async start(o, log) {
    const { indexSchema, startIndex, validateIndexConfig } = await import('@ron/index');
    const amnesia = o.amnesia === true;
    if (!amnesia) mkdirSync(dirname(String(o.path)), { recursive: true });
    const { config } = loadConfig({
      schema: indexSchema,
      env: {},
      flags: {
        bind: '127.0.0.1:0',
        storagePath: String(o.path),
        amnesia: amnesia ? true : undefined,
        logLevel: log.level,
      },
      validate: validateIndexConfig,
    });
    const running = await startIndex({
      config: { ...config, shutdown_grace: Number(o.shutdown_grace) },
      logger: log,
    });
    return {
      url: running.url,
      info: { store: amnesia ? 'memory' : o.path },
      metrics: async () => ownSeries(await running.node.metrics.render(), 'index_'),
      close: (g) => running.close(g),
    };
  },
};
