import { programCli } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startIndex } from './start.js';

/** svc-index's command line: `run` (default), `config print`, `version`; flags from the schema. */
export const cli = programCli({
  name: 'svc-index',
  description:
    'RON svc-index: stable names for content addresses, with versions and compare-and-set (SPEC §4.5.2)',
  runs: 'run the index',
  schema,
  validate,
  envPrefix: 'INDEX_',
  start: (config, logger) => startIndex({ config, logger, installSignals: true }),
});
