import { loadConfig } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ownSeries } from './own-series.js';
import type { PlaneModule } from './plane.js';

/** mailbox: svc-mailbox (SPEC §4.5.3) started through its public entry point, store under data_dir/mailbox. */
export const mailboxPlane: PlaneModule = {
  name: 'mailbox',
  prefixes: ['/v1/mailbox'],
  tryIt:
    "curl -X POST --data-binary hello {gateway}/v1/mailbox/demo && curl -X POST '{gateway}/v1/mailbox/demo/receive?wait=5s'",
  options(c) {
    return {
      path: resolve(c.data_dir, 'mailbox', 'mailbox.db'),
      amnesia: c.amnesia,
      max_message_bytes: c['mailbox.max_message_bytes'],
      dedup_window: c['mailbox.dedup_window'],
      max_receives: c['mailbox.max_receives'],
      default_visibility: c['mailbox.default_visibility'],
      metrics_topic_cap: c['mailbox.metrics_topic_cap'],
      shutdown_grace: c.shutdown_grace,
    };
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only.
    const { mailboxSchema, startMailbox, validateMailboxConfig } = await import('@ron/mailbox');
    const amnesia = o.amnesia === true;
    if (!amnesia) mkdirSync(dirname(String(o.path)), { recursive: true });
    const { config } = loadConfig({
      schema: mailboxSchema,
      env: {},
      file: undefined,
      flags: {
        bind: '127.0.0.1:0',
        storagePath: String(o.path),
        amnesia: amnesia ? true : undefined,
        maxMessageBytes: String(o.max_message_bytes),
        logLevel: log.level,
      },
      validate: validateMailboxConfig,
    });
    const tuned = {
      ...config,
      'mailbox.dedup_window': Number(o.dedup_window),
      'mailbox.max_receives': Number(o.max_receives),
      'mailbox.default_visibility': Number(o.default_visibility),
      'mailbox.metrics_topic_cap': Number(o.metrics_topic_cap),
      shutdown_grace: Number(o.shutdown_grace),
    };
    const running = await startMailbox({ config: tuned, logger: log });
    return {
      url: running.url,
      info: { store: amnesia ? 'memory' : o.path },
      metrics: async () => ownSeries(await running.node.metrics.render(), 'mailbox_'),
      close: (g) => running.close(g),
    };
  },
};
