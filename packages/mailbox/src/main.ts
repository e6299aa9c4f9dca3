import { Command } from 'commander';
import { buildInfo, createLogger, formatConfig, loadConfig, runMain, type LoadedConfig } from '@ron/kernel';
import { schema, validate } from './config.js';
import { startMailbox } from './start.js';

type Flags = Record<string, unknown>;

const EXIT_CODES =
  'exit codes: 0 ok, 64 usage, 65 data (corrupt store), 69 unavailable (port or store in use), 78 config';

function load(flags: Flags): LoadedConfig<typeof schema> {
  return loadConfig({
    schema,
    file: flags.config as string | undefined,
    fileEnv: 'MAILBOX_CONFIG',
    flags,
    nestedEnvPrefix: 'MAILBOX_',
    validate,
  });
}

async function run(flags: Flags): Promise<void> {
  const loaded = load(flags);
  const log = createLogger('svc-mailbox', loaded.config.log_level);
  for (const w of loaded.warnings) log.warn(w);
  await startMailbox({ config: loaded.config, logger: log, installSignals: true });
}

export function cli(argv = process.argv): void {
  const program = new Command('svc-mailbox')
    .description(
      'RON svc-mailbox: durable at-least-once queues with leases, receipts and dead-letter queues (SPEC §4.5.3)',
    )
    .version(buildInfo().version, '-V, --version-flag', 'print the version')
    .addHelpText('after', `\n${EXIT_CODES}`)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 64));
  const addRunFlags = (cmd: Command): Command =>
    cmd
      .option('-c, --config <path>', 'TOML or JSON config file (env: MAILBOX_CONFIG)')
      .option(
        '--bind <addr>',
        'listen address HOST:PORT or unix:/path (env: MAILBOX_BIND; default 127.0.0.1:0)',
      )
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env: LOG_LEVEL)')
      .option('--storage-path <file>', 'SQLite file (env: MAILBOX_STORAGE_PATH; default ./_data/mailbox.db)')
      .option(
        '--max-message-bytes <size>',
        'largest message body, e.g. 256KiB (env: MAILBOX_MAX_MESSAGE_BYTES)',
      )
      .option('--amnesia', 'keep nothing on disk (in-memory store)')
      .option('--dev-ready', 'force /readyz to 200 (dev only)');
  addRunFlags(
    program.command('run', { isDefault: true }).description('run the mailbox (default command)'),
  ).action((flags: Flags) => runMain('svc-mailbox', () => run(flags), 1));
  const config = program.command('config').description('inspect configuration');
  addRunFlags(config.command('print').description('print the effective config with each value’s source'))
    .option('--json', 'JSON output')
    .action((flags: Flags) =>
      runMain('svc-mailbox', () => {
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
        `svc-mailbox ${b.version} (commit ${b.commit}, built ${b.built_at}) node ${process.version}\n`,
      );
    });
  program.parse(argv);
}
