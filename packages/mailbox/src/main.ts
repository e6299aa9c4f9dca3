import { programCli } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startMailbox } from './start.js';

/** svc-mailbox's command line: `run` (default), `config print`, `version`; flags from the schema. */
export const cli = programCli({
  name: 'svc-mailbox',
  description:
    'RON svc-mailbox: durable at-least-once queues with leases, receipts and dead-letter queues (SPEC §4.5.3)',
  runs: 'run the mailbox',
  schema,
  validate,
  envPrefix: 'MAILBOX_',
  start: (config, logger) => startMailbox({ config, logger, installSignals: true }),
});
