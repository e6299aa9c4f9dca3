import { programCli } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startMicronode } from './start.js';

/** micronode's command line: `run` (default), `config print`, `version`; flags from the schema. */
export const cli = programCli({
  name: 'micronode',
  description: 'RON micronode: a single-tenant KV node with hardened ingress (SPEC §3)',
  runs: 'run the node',
  schema,
  validate,
  envPrefix: 'MICRONODE_',
  start: (config, logger) => startMicronode({ config, logger, installSignals: true }),
});
