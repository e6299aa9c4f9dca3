import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { buildInfo, createLogger, parseCli, printConfig, runMain, versionLine } from '@ron/kernel';
import { loadRegistryConfig } from './config.js';
import { generateKeyFile, signBytes, signedBytes, type KeyFile } from './signing.js';
import { startRegistry } from './start.js';
import { addBackupCommands } from './backup-cli.js';

type Flags = Record<string, unknown>;

async function run(flags: Flags): Promise<void> {
  const loaded = loadRegistryConfig({ flags });
  const log = createLogger('svc-registry', loaded.config.log_level);
  for (const w of loaded.warnings) log.warn(w);
  await startRegistry({ config: loaded.config, logger: log, installSignals: true });
}

const collect = (v: string, prev: string[] | undefined): string[] => [
  ...(prev ?? []),
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

function readKey(path: string): KeyFile {
  const k = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  if (k.alg !== 'ed25519' || typeof k.seed !== 'string' || typeof k.signer_id !== 'string')
    throw new Error(`${path} is not a registry key file`);
  return k;
}

/** The `svc-registry` command line. */
export function cli(argv = process.argv): void {
  const program = new Command('svc-registry')
    .description(
      'RON svc-registry: append-only, quorum-signed registry with a resumable change stream (SPEC §2)',
    )
    .enablePositionalOptions() // -V, --version only before the command: a subcommand's --version is its own
    .version(buildInfo().version, '-V, --version', 'print the version');
  const addRunFlags = (cmd: Command): Command =>
    cmd
      .option('-c, --config <path>', 'TOML or JSON config file (env: REGISTRY_CONFIG)')
      .option('--bind <addr>', 'API listener HOST:PORT (env: REGISTRY_ADDR / BIND; default 127.0.0.1:9444)')
      .option('--admin-bind <addr>', 'admin listener HOST:PORT (env: METRICS_ADDR; default 127.0.0.1:9909)')
      .option('--uds <path>', 'also serve the API plane on a unix socket')
      .option('--db <path>', 'SQLite file (env: REGISTRY_DB; default ./_data/registry.db)')
      .option('--sig-threshold <n>', 'signatures a write needs (env: SIG_THRESHOLD)')
      .option(
        '--allow-signer <id>',
        'allow-listed signer id; repeatable or comma-separated (env: SIGNER_ALLOWLIST)',
        collect,
      )
      .option('--amnesia', 'in-memory store: nothing touches disk (env: AMNESIA)')
      .option('--read-only', 'shed every write with 503 ReadOnly')
      .option('--capability-key <file>', 'macaroon root key file; governance writes then need a capability')
      .option('--dev', 'dev mode: in-memory store, generated key, unsigned writes on loopback')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env: LOG_LEVEL)');
  addRunFlags(
    program.command('run', { isDefault: true }).description('run the registry (default command)'),
  ).action((flags: Flags) => runMain('svc-registry', () => run(flags), 1));
  const config = program.command('config').description('inspect configuration');
  addRunFlags(config.command('print').description('print the effective config with each value’s source'))
    .option('--json', 'JSON output')
    .action((flags: Flags) => {
      process.exitCode = printConfig('svc-registry', () => loadRegistryConfig({ flags }), {
        json: flags.json === true,
        // Dev mode and amnesia run in memory: the SQLite path is not used, so it is not shown as if it were.
        overrides: (l): Record<string, { value: unknown; source: string }> =>
          l.config.dev || l.config.amnesia
            ? {
                db: {
                  value: null,
                  source: `unused: ${l.config.dev ? '--dev' : 'amnesia'} keeps the log in memory`,
                },
              }
            : {},
      });
    });
  program
    .command('version')
    .description('print build info')
    .action(() => void process.stdout.write(versionLine('svc-registry')));
  program
    .command('keygen')
    .description('generate an Ed25519 signer key file (mode 0600) and print its signer id')
    .requiredOption('--out <path>', 'where to write the key file')
    .action((o: { out: string }) =>
      runMain('svc-registry', () => {
        const k = generateKeyFile();
        writeFileSync(o.out, `${JSON.stringify(k, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`${k.signer_id}\n`);
        return Promise.resolve();
      }),
    );
  program
    .command('sign')
    .description('sign a commit: prints the signature JSON for POST /registry/commit')
    .requiredOption('--key <path>', 'key file from `svc-registry keygen`')
    .requiredOption('--payload-b3 <b3>', 'payload hash, "b3:…"')
    .requiredOption('--version <n>', 'the version the commit creates (current head + 1)')
    .option('--registry <id>', 'registry id', 'default')
    .action((o: { key: string; payloadB3: string; version: string; registry: string }) =>
      runMain('svc-registry', () => {
        const v = Number(o.version);
        if (!Number.isSafeInteger(v) || v < 1) throw new Error('--version must be a positive integer');
        const sig = signBytes(
          readKey(o.key),
          signedBytes({ registry: o.registry, op: 'commit', payload_b3: o.payloadB3, version: v }),
        );
        process.stdout.write(`${JSON.stringify(sig)}\n`);
        return Promise.resolve();
      }),
    );
  addBackupCommands(program, (main) => runMain('svc-registry', main));
  parseCli(program, argv);
}
