import { Command } from 'commander';
import { buildInfo, createLogger, formatConfig, loadConfig, runMain, type LoadedConfig } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startStorage } from './start.js';

type Flags = Record<string, unknown>;

const EXIT_CODES =
  'exit codes: 0 ok, 64 usage, 65 corrupt store, 69 store unavailable (locked, unreadable) or port in use, 78 config';

function load(flags: Flags): LoadedConfig<typeof schema> {
  return loadConfig({
    schema,
    file: flags.config as string | undefined,
    fileEnv: 'STORAGE_CONFIG',
    flags,
    nestedEnvPrefix: 'STORAGE_',
    validate,
  });
}

async function run(flags: Flags): Promise<void> {
  const loaded = load(flags);
  const log = createLogger('svc-storage', loaded.config.log_level);
  for (const w of loaded.warnings) log.warn(w);
  await startStorage({ config: loaded.config, logger: log, installSignals: true });
}

export function cli(argv = process.argv): void {
  const program = new Command('svc-storage')
    .description('RON storage plane: a content-addressed, verified, deduplicated BLAKE3 store (SPEC §4.5.1)')
    .version(buildInfo().version, '-V, --version-flag', 'print the version')
    .addHelpText('after', `\n${EXIT_CODES}`)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 64));
  const addRunFlags = (cmd: Command): Command =>
    cmd
      .option('-c, --config <path>', 'TOML or JSON config file (env: STORAGE_CONFIG)')
      .option(
        '--bind <addr>',
        'listen address HOST:PORT or unix:/path (env: STORAGE_BIND; default 127.0.0.1:0)',
      )
      .option('--data-dir <dir>', 'store directory (env: STORAGE_DATA_DIR; default ./_data/storage)')
      .option('--max-object-bytes <size>', 'largest object, e.g. 64MiB (env: STORAGE_MAX_OBJECT_BYTES)')
      .option('--max-bytes <size>', 'quota on stored bytes, 0 = none (env: STORAGE_MAX_BYTES)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env: LOG_LEVEL)')
      .option('--dev-ready', 'force /readyz to 200 (dev only)');
  addRunFlags(
    program.command('run', { isDefault: true }).description('run the storage plane (default command)'),
  ).action((flags: Flags) => runMain('svc-storage', () => run(flags), 1));
  const config = program.command('config').description('inspect configuration');
  addRunFlags(config.command('print').description('print the effective config with each value’s source'))
    .option('--json', 'JSON output')
    .action((flags: Flags) =>
      runMain('svc-storage', () => {
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
        `svc-storage ${b.version} (commit ${b.commit}, built ${b.built_at}) node ${process.version}\n`,
      );
    });
  program.parse(argv);
}
