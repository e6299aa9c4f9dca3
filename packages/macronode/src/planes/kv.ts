import { loadConfig } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PlaneModule } from './plane.js';

/** kv: micronode's KV (SPEC §3) started through its public entry point, store under data_dir. */
export const kvPlane: PlaneModule = {
  name: 'kv',
  prefixes: ['/v1/kv'],
  tryIt:
    'curl -X PUT --data-binary hello {gateway}/v1/kv/demo/greeting && curl {gateway}/v1/kv/demo/greeting',
  options(c) {
    return {
      engine: c.amnesia ? 'mem' : c['kv.storage_engine'],
      path: resolve(c.data_dir, 'kv', 'micronode.db'),
      amnesia: c.amnesia,
      max_body_bytes: c['kv.max_body_bytes'],
      shutdown_grace: c.shutdown_grace,
    };
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only.
    const { micronodeSchema, startMicronode, validateMicronodeConfig } = await import('@ron/micronode');
    const engine = o.engine as 'mem' | 'sqlite';
    if (engine === 'sqlite') mkdirSync(join(String(o.path), '..'), { recursive: true });
    const { config } = loadConfig({
      schema: micronodeSchema,
      env: {},
      flags: {
        bind: '127.0.0.1:0',
        storageEngine: engine,
        storagePath: String(o.path),
        amnesia: o.amnesia === true ? true : undefined,
        maxBodyBytes: String(o.max_body_bytes),
        logLevel: log.level,
      },
      validate: validateMicronodeConfig,
    });
    const running = await startMicronode({ config, logger: log });
    return {
      url: running.url,
      info: { engine, path: engine === 'sqlite' ? o.path : null },
      close: (g) => running.close(g),
    };
  },
};
