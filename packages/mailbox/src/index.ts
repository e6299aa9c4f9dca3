export { createMailboxApp, storePath, type MailboxApp, type MailboxAppOptions } from './app.js';
export {
  schema as mailboxSchema,
  validate as validateMailboxConfig,
  type MailboxConfig,
  configFromOverrides as mailboxConfigFrom,
} from './config.js';
export { Mailbox, type MailboxOptions } from './mailbox.js';
export {
  MailboxStore,
  type Attempt,
  type DeadMessage,
  type Delivery,
  type MailboxStoreOptions,
  type ReceiptResult,
  type ReceiveResult,
  type TopicStats,
} from './mailbox-store.js';
export { MailboxMetrics, OTHER_TOPIC, TOPIC_EVENTS } from './metrics.js';
export { formatReceipt, parseReceipt } from './receipt.js';
export { cli } from './main.js';
export { startMailbox, type RunningMailbox, type StartMailboxOptions } from './start.js';
