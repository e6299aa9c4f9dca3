import { programCli } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startStorage } from './start.js';

/** svc-storage's command line: `run` (default), `config print`, `version`; flags from the schema. */
export const cli = programCli({
  name: 'svc-storage',
  description: 'RON storage plane: a content-addressed, verified, deduplicated BLAKE3 store (SPEC §4.5.1)',
  runs: 'run the storage plane',
  schema,
  validate,
  envPrefix: 'STORAGE_',
  start: (config, logger) => startStorage({ config, logger, installSignals: true }),
});
