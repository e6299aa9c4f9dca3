import { loadConfig } from '@ron/kernel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PlaneModule } from './plane.js';

/**
 * storage: svc-storage (SPEC §4.5.1) started through its public entry point, its store under
 * data_dir/storage. The gateway routes /v1/cas to it with the plane's own body cap
 * (`storage.max_object_bytes`), streaming bodies both ways. With amnesia the store lives in a
 * temporary directory removed when the plane stops (a content store has no in-memory engine).
 */
export const storagePlane: PlaneModule = {
  name: 'storage',
  prefixes: ['/v1/cas'],
  tryIt: 'curl --data-binary @FILE {gateway}/v1/cas ; curl {gateway}/v1/cas/<addr>',
  options(c) {
    return {
      data_dir: resolve(c.data_dir, 'storage'),
      amnesia: c.amnesia,
      max_object_bytes: c['storage.max_object_bytes'],
      max_bytes: c['storage.max_bytes'],
      shutdown_grace: c.shutdown_grace,
    };
  },
  bodyCap(c) {
    return c['storage.max_object_bytes'];
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only.
    const { startStorage, storageSchema, validateStorageConfig } = await import('@ron/storage');
    const amnesia = o.amnesia === true;
    const dir = amnesia ? mkdtempSync(join(tmpdir(), 'ron-storage-amnesia-')) : String(o.data_dir);
    const { config } = loadConfig({
      schema: storageSchema,
      env: {},
      flags: {
        bind: '127.0.0.1:0',
        dataDir: dir,
        maxObjectBytes: String(o.max_object_bytes),
        maxBytes: String(o.max_bytes),
        logLevel: log.level,
      },
      validate: validateStorageConfig,
    });
    const running = await startStorage({ config, logger: log });
    return {
      url: running.url,
      info: { data_dir: amnesia ? '(temporary: amnesia)' : dir },
      async close(g) {
        await running.close(g);
        if (amnesia) rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
