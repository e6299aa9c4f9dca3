import { field, type LogLevel } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { childSpecFields, definePlane } from '../plane.js';

/** kv: micronode's KV (SPEC §3) started through its public entry point, store under data_dir/kv. */
export const kvPlane = definePlane({
  name: 'kv',
  config: {
    ...childSpecFields('kv'),
    storage_engine: field.enum(['mem', 'sqlite'], 'sqlite', {
      doc: 'kv store engine (amnesia forces mem)',
    }),
    max_body_bytes: field.size(1024 * 1024, { min: 1, doc: 'kv plane body cap on writes' }),
  },
  prefixes: ['/v1/kv'],
  tryIt:
    'curl -X PUT --data-binary hello {gateway}/v1/kv/demo/greeting && curl {gateway}/v1/kv/demo/greeting',
  store: {
    file: 'kv/micronode.db',
    watermark: { sql: 'SELECT max(updated_at) FROM kv', what: 'newest write (ms)' },
  },
  options(own, host) {
    return {
      engine: host.amnesia ? 'mem' : own.storage_engine,
      path: resolve(host.data_dir, 'kv', 'micronode.db'),
      amnesia: host.amnesia,
      max_body_bytes: own.max_body_bytes,
      shutdown_grace: host.shutdown_grace,
    };
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only.
    const { micronodeConfigFrom, startMicronode } = await import('@ron/micronode');
    const engine = o.engine as 'mem' | 'sqlite';
    if (engine === 'sqlite') mkdirSync(dirname(String(o.path)), { recursive: true });
    const config = micronodeConfigFrom({
      bind: '127.0.0.1:0',
      'storage.engine': engine,
      'storage.path': String(o.path),
      amnesia: o.amnesia === true,
      'limits.max_body_bytes': Number(o.max_body_bytes),
      shutdown_grace: Number(o.shutdown_grace),
      log_level: log.level as LogLevel,
    });
    const running = await startMicronode({ config, logger: log });
    return {
      url: running.url,
      info: { engine, path: engine === 'sqlite' ? o.path : null },
      close: (g) => running.close(g),
    };
  },
});
