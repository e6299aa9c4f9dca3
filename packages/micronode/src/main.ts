import { Command } from 'commander';
import {
  buildInfo,
  createLogger,
  loadConfig,
  parseCli,
  printConfig,
  runMain,
  type LoadedConfig,
} from '@ron/kernel';
import { schema, validate } from './config.js';
import { startMicronode } from './start.js';

type Flags = Record<string, unknown>;

function load(flags: Flags): LoadedConfig<typeof schema> {
  return loadConfig({
    schema,
    file: flags.config as string | undefined,
    fileEnv: 'MICRONODE_CONFIG',
    flags,
    validate,
    envPrefixes: ['MICRONODE_'],
  });
}

async function run(flags: Flags): Promise<void> {
  const loaded = load(flags);
  const log = createLogger('micronode', loaded.config.log_level);
  for (const w of loaded.warnings) log.warn(w);
  await startMicronode({ config: loaded.config, logger: log, installSignals: true });
}

export function cli(argv = process.argv): void {
  const program = new Command('micronode')
    .description('RON micronode: a single-tenant KV node with hardened ingress (SPEC §3)')
    .enablePositionalOptions() // -V, --version only before the command: a subcommand's --version is its own
    .version(buildInfo().version, '-V, --version', 'print the version');
  const addRunFlags = (cmd: Command): Command =>
    cmd
      .option('-c, --config <path>', 'TOML or JSON config file (env: MICRONODE_CONFIG)')
      .option(
        '--bind <addr>',
        'listen address HOST:PORT or unix:/path (env: MICRONODE_BIND; default 127.0.0.1:5310)',
      )
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env: LOG_LEVEL)')
      .option('--storage-engine <engine>', 'mem or sqlite (env: MICRONODE_STORAGE_ENGINE; default sqlite)')
      .option(
        '--storage-path <file>',
        'SQLite file (env: MICRONODE_STORAGE_PATH; default ./_data/micronode.db)',
      )
      .option('--max-body-bytes <size>', 'body cap for KV writes, e.g. 1MiB (env: MICRONODE_MAX_BODY_BYTES)')
      .option('--amnesia', 'keep nothing on disk (forces the mem engine)')
      .option('--dev-routes', 'expose /dev/echo and /dev/rl')
      .option('--dev-ready', 'force /readyz to 200 (dev only)');
  addRunFlags(
    program.command('run', { isDefault: true }).description('run the node (default command)'),
  ).action((flags: Flags) => runMain('micronode', () => run(flags), 1));
  const config = program.command('config').description('inspect configuration');
  addRunFlags(config.command('print').description('print the effective config with each value’s source'))
    .option('--json', 'JSON output')
    .action((flags: Flags) => {
      process.exitCode = printConfig('micronode', () => load(flags), { json: flags.json === true });
    });
  program
    .command('version')
    .description('print build info')
    .action(() => {
      const b = buildInfo();
      process.stdout.write(
        `micronode ${b.version} (commit ${b.commit}, built ${b.built_at}) node ${process.version}\n`,
      );
    });
  parseCli(program, argv);
}
