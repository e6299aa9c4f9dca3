import type { LogLevel } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ownSeries } from '../own-series.js';
import { childSpecFields, definePlane } from '../plane.js';

/** index: svc-index (SPEC §4.5.2) started through its public entry point, store under data_dir/index. */
export const indexPlane = definePlane({
  name: 'index',
  config: childSpecFields('index'),
  prefixes: ['/v1/index'],
  tryIt: `curl -X PUT -H 'content-type: application/json' -d '{"addr":"b3:${'0'.repeat(64)}"}' {gateway}/v1/index/demo/hello && curl {gateway}/v1/index/demo/hello`,
  store: {
    file: 'index/index.db',
    watermark: { sql: 'SELECT max(at) FROM history', what: 'newest name change (ms)' },
  },
  options(_own, host) {
    return {
      path: resolve(host.data_dir, 'index', 'index.db'),
      amnesia: host.amnesia,
      shutdown_grace: host.shutdown_grace,
    };
  },
  async start(o, log) {
    const { indexConfigFrom, startIndex } = await import('@ron/index');
    const amnesia = o.amnesia === true;
    if (!amnesia) mkdirSync(dirname(String(o.path)), { recursive: true });
    const config = indexConfigFrom({
      bind: '127.0.0.1:0',
      'storage.path': String(o.path),
      amnesia,
      shutdown_grace: Number(o.shutdown_grace),
      log_level: log.level as LogLevel,
    });
    const running = await startIndex({ config, logger: log });
    return {
      url: running.url,
      info: { store: amnesia ? 'memory' : o.path },
      metrics: async () => ownSeries(await running.node.metrics.render(), 'index_'),
      close: (g) => running.close(g),
    };
  },
});
