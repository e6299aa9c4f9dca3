import { Command } from 'commander';
import {
  EX_CONFIG,
  EX_UNAVAILABLE,
  StartupError,
  buildInfo,
  versionLine,
  createLogger,
  installShutdown,
  parseCli,
  printConfig,
  runMain,
} from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadMacronodeConfig, type LoadInput } from './config.js';
import { Macronode, consoleUrl } from './node.js';
import { childSpec } from './planes/plane.js';
import { PLANES } from './planes/table.js';
import { addBackupCommands } from './backup-cli.js';

type Flags = Record<string, unknown>;

function input(flags: Flags, file?: string): LoadInput {
  return { file: file ?? (flags.config as string | undefined), flags };
}

async function run(flags: Flags): Promise<void> {
  const t0 = performance.now();
  const inp = input(flags);
  const loaded = loadMacronodeConfig(inp);
  const c = loaded.config;
  const log = createLogger('macronode', c.log_level);
  for (const w of loaded.warnings) log.warn({ event: 'config_warning' }, w);
  if (loaded.config.admin_token === '')
    log.warn('no admin_token set: admin POST routes accept loopback callers only');
  if (!c.amnesia) {
    try {
      mkdirSync(resolve(c.data_dir), { recursive: true });
    } catch (err) {
      throw new StartupError(
        `data_dir ${resolve(c.data_dir)} cannot be created: ${(err as Error).message}`,
        EX_UNAVAILABLE,
      );
    }
  }
  // POST /api/v1/shutdown runs the same ordered shutdown as SIGTERM (installed just below).
  const shutdownBox: { run?: () => Promise<void> } = {};
  const node = new Macronode({
    loaded,
    input: inp,
    logger: log,
    onShutdownRequest: () => void shutdownBox.run?.(),
  });
  // Planes stop one after another, each within its child spec's shutdown_ms.
  const planeGrace = Object.values(PLANES).reduce((s, m) => s + childSpec(m, c).shutdownMs, 0);
  const shutdown = installShutdown({
    logger: log,
    graceMs: c.shutdown_grace + planeGrace + 1000,
    close: () => node.close(),
  });
  shutdownBox.run = shutdown;
  process.on('SIGHUP', () => {
    void node.reload('SIGHUP');
  });
  try {
    await node.start();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.fatal({ event: 'start_failed', err: msg }, `macronode could not start: ${msg}`);
    await node.close().catch(() => undefined);
    // Keep a StartupError's own code (unreadable TLS files: 78); a port in use is 69; anything else 1.
    const code =
      err instanceof StartupError
        ? err.exitCode
        : (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
          ? EX_UNAVAILABLE
          : 1;
    throw new StartupError(`macronode could not start: ${msg}`, code);
  }
  const urls = node.urls;
  // The gateway is named by gateway_url; `planes` lists the planes behind it.
  const planes = Object.fromEntries(
    node.supervisor
      .names()
      .filter((n) => n !== 'gateway')
      .map((n) => [n, node.supervisor.status(n)]),
  );
  log.info(
    {
      event: 'ready',
      url: urls.admin,
      console_url: consoleUrl(urls.admin ?? ''),
      gateway_url: urls.gateway,
      metrics_url: urls.metrics ?? null,
      data_dir: c.amnesia ? null : resolve(c.data_dir),
      planes: Object.fromEntries(
        Object.entries(planes).map(([n, s]) => [n, { url: s?.url, pid: s?.pid, ...s?.info }]),
      ),
      startup_ms: Math.round(performance.now() - t0),
    },
    `macronode ready\n  ${node.tryLines().join('\n  ')}`,
  );
}

function configFail(err: unknown, code: number): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`macronode: ${msg}\n`);
  process.exit(code);
}

export function cli(argv = process.argv): void {
  const program = new Command('macronode')
    .description(
      'RON macronode: the host daemon. Supervises each plane (gateway, registry, kv, storage) as a child process ' +
        'and serves a truthful admin plane. Config layers: defaults < file (--config / RON_CONFIG) < env ' +
        '(RON_*, RON_<SECTION>__<KEY>) < flags. Docs: docs/macronode.md',
    )
    .addHelpText(
      'after',
      '\nQuick start:\n  macronode run                        # admin 127.0.0.1:8080, gateway 127.0.0.1:8090, data ./.ron\n' +
        '  curl localhost:8080/readyz?verbose   # one line per plane\n' +
        '  curl localhost:8080/api/v1/status    # pids, restarts, last errors\n' +
        '  kill -HUP <pid>                      # reload the config file',
    )
    .enablePositionalOptions() // -V, --version only before the command: a subcommand's --version is its own
    .version(buildInfo().version, '-V, --version', 'print the version');
  const withConfig = (cmd: Command): Command =>
    cmd.option('-c, --config <path>', 'TOML or JSON config file (env: RON_CONFIG)');
  const withRunFlags = (cmd: Command): Command =>
    withConfig(cmd)
      .option('--http-addr <addr>', 'admin listener HOST:PORT (env: RON_HTTP_ADDR; default 127.0.0.1:8080)')
      .option(
        '--gateway-addr <addr>',
        'gateway listener HOST:PORT (env: RON_GATEWAY_ADDR; default 127.0.0.1:8090)',
      )
      .option('--metrics-addr <addr>', 'optional separate /metrics listener (env: RON_METRICS_ADDR)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env: RON_LOG)')
      .option('--data-dir <dir>', 'where planes keep their stores (env: RON_DATA_DIR; default ./.ron)')
      .option('--services <list>', 'enabled planes, comma-separated (env: RON_SERVICES; default all)')
      .option('--amnesia', 'keep nothing on disk (env: RON_AMNESIA)');

  withRunFlags(
    program
      .command('run', { isDefault: true })
      .description('run the node in the foreground (default command)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  macronode run                       # every plane, data under ./.ron\n' +
        '  macronode run --http-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 --amnesia\n' +
        'Signals: SIGTERM/SIGINT = ordered graceful shutdown; SIGHUP = reload config.',
    )
    .action((flags: Flags) => runMain('macronode', () => run(flags), 1));

  withRunFlags(program.command('check'))
    .description('load and validate the config (file, env, flags); binds nothing. Exit 0 ok, 78 invalid')
    .action((flags: Flags) => {
      try {
        const l = loadMacronodeConfig(input(flags));
        for (const w of l.warnings) process.stderr.write(`macronode: warning: ${w}\n`);
        process.stdout.write(`config ok${l.file ? ` (${l.file})` : ''}\n`);
      } catch (err) {
        configFail(err, EX_CONFIG);
      }
    });

  const config = program.command('config').description('inspect configuration');
  withRunFlags(
    config
      .command('print')
      .description('print the effective config with each value’s source (secrets redacted)'),
  )
    .option('--json', 'JSON output')
    .action((flags: Flags) => {
      process.exitCode = printConfig('macronode', () => loadMacronodeConfig(input(flags)), {
        json: flags.json === true,
      });
    });
  config
    .command('validate [path]')
    .description('validate a config file (default: RON_CONFIG) merged with env. Exit 0 ok, 78 invalid')
    .action((path: string | undefined) => {
      try {
        const l = loadMacronodeConfig({ file: path });
        for (const w of l.warnings) process.stderr.write(`macronode: warning: ${w}\n`);
        process.stdout.write(`valid${l.file ? `: ${l.file}` : ' (no file; defaults and env)'}\n`);
      } catch (err) {
        configFail(err, EX_CONFIG);
      }
    });

  withRunFlags(program.command('doctor'))
    .description(
      'check the host: data dir writable, ports free, Node version, store opens, TLS files, clock. Exit 1 on any fail',
    )
    .action((flags: Flags) =>
      runMain('macronode', async () => {
        // Loaded on demand: `run` never pays for better-sqlite3 in the host.
        const { runDoctor } = await import('./doctor.js');
        const code = await runDoctor(input(flags));
        process.exitCode = code;
      }),
    );

  program
    .command('version')
    .description('print build info')
    .action(() => void process.stdout.write(versionLine('macronode')));
  addBackupCommands(program, withRunFlags, (flags) => input(flags));
  parseCli(program, argv);
}
