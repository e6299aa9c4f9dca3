import { Command } from 'commander';
import { buildInfo, createLogger, formatConfig, loadConfig, runMain, type LoadedConfig } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startIndex } from './start.js';

type Flags = Record<string, unknown>;

const EXIT_CODES =
  'exit codes: 0 ok, 64 usage, 65 data (corrupt store), 69 unavailable (port or store in use), 78 config';

function load(flags: Flags): LoadedConfig<typeof schema> {
  return loadConfig({
    schema,
    file: flags.config as string | undefined,
    fileEnv: 'INDEX_CONFIG',
    flags,
    nestedEnvPrefix: 'INDEX_',
    validate,
  });
}

async function run(flags: Flags): Promise<void> {
  const loaded = load(flags);
  const log = createLogger('svc-index', loaded.config.log_level);
  for (const w of loaded.warnings) log.warn(w);
  await startIndex({ config: loaded.config, logger: log, installSignals: true });
}

export function cli(argv = process.argv): void {
  const program = new Command('svc-index')
    .description(
      'RON svc-index: stable names for content addresses, with versions and compare-and-set (SPEC §4.5.2)',
    )
    .version(buildInfo().version, '-V, --version-flag', 'print the version')
    .addHelpText('after', `\n${EXIT_CODES}`)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 64));
  const addRunFlags = (cmd: Command): Command =>
    cmd
      .option('-c, --config <path>', 'TOML or JSON config file (env: INDEX_CONFIG)')
      .option(
        '--bind <addr>',
        'listen address HOST:PORT or unix:/path (env: INDEX_BIND; default 127.0.0.1:0)',
      )
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env: LOG_LEVEL)')
      .option('--storage-path <file>', 'SQLite file (env: INDEX_STORAGE_PATH; default ./_data/index.db)')
      .option('--amnesia', 'keep nothing on disk (in-memory store)')
      .option('--dev-ready', 'force /readyz to 200 (dev only)');
  addRunFlags(
    program.command('run', { isDefault: true }).description('run the index (default command)'),
  ).action((flags: Flags) => runMain('svc-index', () => run(flags), 1));
  const config = program.command('config').description('inspect configuration');
  addRunFlags(config.command('print').description('print the effective config with each value’s source'))
    .option('--json', 'JSON output')
    .action((flags: Flags) =>
      runMain('svc-index', () => {
        process.stdout.write(`${formatConfig(load(flags), flags.json === true)}\n`);
        return Promise.resolve();
      }),
    );
  program
    .command('version')
    .description('print build info')
    .action(() => {
      const b = buildInfo();
      process.stdout.write(
        `svc-index ${b.version} (commit ${b.commit}, built ${b.built_at}) node ${process.version}\n`,
      );
    });
  program.parse(argv);
}
