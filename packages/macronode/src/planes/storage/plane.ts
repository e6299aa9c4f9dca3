import { field, type LogLevel } from '@ron/kernel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childSpecFields, definePlane } from '../plane.js';

/**
 * storage: svc-storage (SPEC §4.5.1) started through its public entry point, its store under
 * data_dir/storage. The gateway routes /v1/cas to it with the plane's own body cap
 * (`storage.max_object_bytes`), streaming bodies both ways. With amnesia the store lives in a
 * temporary directory removed when the plane stops (a content store has no in-memory engine).
 */
export const storagePlane = definePlane({
  name: 'storage',
  config: {
    ...childSpecFields('storage'),
    max_object_bytes: field.size(64 * 1024 * 1024, {
      min: 1,
      doc: 'largest object; also the gateway body cap on /v1/cas',
    }),
    max_bytes: field.size(0, {
      min: 0,
      doc: 'quota on stored (deduplicated) bytes, 507 past it; 0 = only the disk',
    }),
  },
  prefixes: ['/v1/cas'],
  tryIt: 'curl --data-binary @FILE {gateway}/v1/cas ; curl {gateway}/v1/cas/<addr>',
  store: {
    file: 'storage/store.db',
    watermark: { sql: 'SELECT max(created_at) FROM objects', what: 'newest object (ms)' },
  },
  options(own, host) {
    return {
      data_dir: resolve(host.data_dir, 'storage'),
      amnesia: host.amnesia,
      max_object_bytes: own.max_object_bytes,
      max_bytes: own.max_bytes,
      shutdown_grace: host.shutdown_grace,
    };
  },
  bodyCap(own) {
    return own.max_object_bytes;
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only.
    const { startStorage, storageConfigFrom } = await import('@ron/storage');
    const amnesia = o.amnesia === true;
    const dir = amnesia ? mkdtempSync(join(tmpdir(), 'ron-storage-amnesia-')) : String(o.data_dir);
    const config = storageConfigFrom({
      bind: '127.0.0.1:0',
      data_dir: dir,
      'storage.max_object_bytes': Number(o.max_object_bytes),
      'storage.max_bytes': Number(o.max_bytes),
      shutdown_grace: Number(o.shutdown_grace),
      log_level: log.level as LogLevel,
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
});
