import { field, type LogLevel } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ownSeries } from '../own-series.js';
import { childSpecFields, definePlane } from '../plane.js';

/** mailbox: svc-mailbox (SPEC §4.5.3) started through its public entry point, store under data_dir/mailbox. */
export const mailboxPlane = definePlane({
  name: 'mailbox',
  config: {
    ...childSpecFields('mailbox'),
    max_message_bytes: field.size(256 * 1024, { min: 1, doc: 'largest mailbox message body' }),
    dedup_window: field.duration(5 * 60_000, {
      min: 0,
      doc: 'how long an Idempotency-Key is remembered per topic',
    }),
    max_receives: field.int(5, {
      min: 1,
      max: 1000,
      doc: 'leases without an ack before a message is dead-lettered',
    }),
    default_visibility: field.duration(30_000, {
      min: 1,
      max: 12 * 3_600_000,
      doc: 'lease length when a receive names none',
    }),
    metrics_topic_cap: field.int(100, {
      min: 1,
      doc: 'topics with their own metric series (the rest under topic="_other")',
    }),
  },
  prefixes: ['/v1/mailbox'],
  tryIt:
    "curl -X POST --data-binary hello {gateway}/v1/mailbox/demo && curl -X POST '{gateway}/v1/mailbox/demo/receive?wait=5s'",
  store: {
    file: 'mailbox/mailbox.db',
    watermark: { sql: 'SELECT max(enqueued_at) FROM messages', what: 'newest enqueue (ms)' },
  },
  options(own, host) {
    return {
      path: resolve(host.data_dir, 'mailbox', 'mailbox.db'),
      amnesia: host.amnesia,
      max_message_bytes: own.max_message_bytes,
      dedup_window: own.dedup_window,
      max_receives: own.max_receives,
      default_visibility: own.default_visibility,
      metrics_topic_cap: own.metrics_topic_cap,
      shutdown_grace: host.shutdown_grace,
    };
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only.
    const { mailboxConfigFrom, startMailbox } = await import('@ron/mailbox');
    const amnesia = o.amnesia === true;
    if (!amnesia) mkdirSync(dirname(String(o.path)), { recursive: true });
    const config = mailboxConfigFrom({
      bind: '127.0.0.1:0',
      'storage.path': String(o.path),
      amnesia,
      'mailbox.max_message_bytes': Number(o.max_message_bytes),
      'mailbox.dedup_window': Number(o.dedup_window),
      'mailbox.max_receives': Number(o.max_receives),
      'mailbox.default_visibility': Number(o.default_visibility),
      'mailbox.metrics_topic_cap': Number(o.metrics_topic_cap),
      shutdown_grace: Number(o.shutdown_grace),
      log_level: log.level as LogLevel,
    });
    const running = await startMailbox({ config, logger: log });
    return {
      url: running.url,
      info: { store: amnesia ? 'memory' : o.path },
      metrics: async () => ownSeries(await running.node.metrics.render(), 'mailbox_'),
      close: (g) => running.close(g),
    };
  },
});
