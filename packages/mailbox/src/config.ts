import {
  programFields,
  shutdownGraceField,
  ADDR_RULE,
  field,
  parseAddr,
  type ConfigOf,
  configFrom,
  type ConfigOverrides,
} from '@ron/kernel';

/** svc-mailbox's one config schema: rules and defaults (SPEC §4.5.3, §1.6). */
export const schema = {
  ...programFields('MAILBOX', '127.0.0.1:0'),
  'storage.path': field.string('./_data/mailbox.db', {
    env: ['MAILBOX_STORAGE_PATH'],
    flag: 'storagePath',
    doc: 'SQLite file (WAL, synchronous=FULL)',
  }),
  amnesia: field.bool(false, {
    env: ['MAILBOX_AMNESIA'],
    flag: 'amnesia',
    doc: 'keep nothing on disk (an in-memory SQLite store)',
  }),
  'mailbox.max_message_bytes': field.size(256 * 1024, {
    env: ['MAILBOX_MAX_MESSAGE_BYTES'],
    flag: 'maxMessageBytes',
    min: 1,
    doc: 'largest message body (413 past it, before reading)',
  }),
  'mailbox.dedup_window': field.duration(5 * 60_000, {
    env: ['MAILBOX_DEDUP_WINDOW'],
    min: 0,
    doc: 'how long an Idempotency-Key is remembered per topic',
  }),
  'mailbox.max_receives': field.int(5, {
    env: ['MAILBOX_MAX_RECEIVES'],
    min: 1,
    max: 1000,
    doc: 'leases without an ack before a message moves to the dead-letter queue',
  }),
  'mailbox.default_visibility': field.duration(30_000, {
    env: ['MAILBOX_DEFAULT_VISIBILITY'],
    min: 1,
    max: 12 * 3_600_000,
    doc: 'lease length when a receive names no visibility',
  }),
  'mailbox.metrics_topic_cap': field.int(100, {
    env: ['MAILBOX_METRICS_TOPIC_CAP'],
    min: 1,
    doc: 'topics with their own metric series; the rest are summed under topic="_other"',
  }),
  'mailbox.sweep_interval': field.duration(1000, {
    env: ['MAILBOX_SWEEP_INTERVAL'],
    min: 10,
    doc: 'how often exhausted messages move to the DLQ and old idempotency keys are forgotten',
  }),
  'limits.request_timeout': field.duration(5000, {
    env: ['MAILBOX_REQUEST_TIMEOUT'],
    min: 1,
    doc: 'handler + body upload budget (408 past it); receive adds its long-poll wait to this',
  }),
  'limits.max_inflight': field.int(1024, {
    env: ['MAILBOX_MAX_INFLIGHT'],
    min: 1,
    doc: 'in-flight budget per write route (429 Busy past it)',
  }),
  'rate_limit.rps': field.number(0, {
    env: ['MAILBOX_RL_RPS'],
    min: 0,
    doc: 'token bucket refill per second on API routes; 0 = off',
  }),
  'rate_limit.burst': field.int(0, {
    env: ['MAILBOX_RL_BURST'],
    min: 0,
    doc: 'token bucket size; 0 = same as rps',
  }),
  shutdown_grace: shutdownGraceField(),
};

export type MailboxConfig = ConfigOf<typeof schema>;

export const validate = (c: MailboxConfig): { key: string; rule: string }[] => {
  const out: { key: string; rule: string }[] = [];
  if (parseAddr(c.bind) === undefined) out.push({ key: 'bind', rule: ADDR_RULE });
  return out;
};

/**
 * This program's config from its defaults plus typed overrides by schema key, validated like a
 * start-up config (no env, no file): how a host such as macronode embeds it. An unknown key throws.
 */
export function configFromOverrides(overrides: ConfigOverrides<typeof schema>): MailboxConfig {
  return configFrom(schema, overrides, validate);
}
