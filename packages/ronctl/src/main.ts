// ronctl: operator CLI for RON (SPEC §5). One file per command under commands/.
import { Command, Option } from 'commander';
import { buildInfo, versionLine } from '@ron/kernel/core';
import { capKeygen } from './commands/cap-keygen.js';
import { capMint } from './commands/cap-mint.js';
import { cas } from './commands/cas.js';
import { indexNames } from './commands/index-names.js';
import { keygen } from './commands/keygen.js';
import { mailbox } from './commands/mailbox.js';
import { registryApply } from './commands/registry-apply.js';
import { registryApprove } from './commands/registry-approve.js';
import { registryGet } from './commands/registry-get.js';
import { registryHead } from './commands/registry-head.js';
import { registryPropose } from './commands/registry-propose.js';
import { registryPublish } from './commands/registry-publish.js';
import { registryShow } from './commands/registry-show.js';
import { registryVerify } from './commands/registry-verify.js';
import { registryWatch } from './commands/registry-watch.js';
import { sign } from './commands/sign.js';
import { status } from './commands/status.js';
import { DEFAULT_ADMIN_URL, DEFAULT_GATEWAY_URL, DEFAULT_REGISTRY_URL } from './context.js';

/** The program options every command also accepts after its name (`ronctl registry head --json`). */
const GLOBAL_OPTIONS: readonly (readonly [flags: string, description: string])[] = [
  ['--registry <url>', `svc-registry API URL (env RON_REGISTRY_URL; default ${DEFAULT_REGISTRY_URL})`],
  ['--admin <url>', `macronode admin URL (env RON_ADMIN_URL; default ${DEFAULT_ADMIN_URL})`],
  [
    '--gateway <url>',
    `macronode gateway URL for cas, index, mailbox (env RON_GATEWAY_URL; default ${DEFAULT_GATEWAY_URL})`,
  ],
  ['--registry-id <id>', 'registry id inside signed messages (env RON_REGISTRY_ID; default "default")'],
  ['--token <macaroon>', 'capability for governance writes (env RON_REGISTRY_TOKEN)'],
  ['--json', 'machine-readable JSON output'],
];

/**
 * Program options are parsed only before the command name (`enablePositionalOptions`), so a command's
 * own option is never taken by the program: `ronctl registry get ID --version 1` asks for descriptor
 * version 1, while `ronctl --version` prints ronctl's. The target and output options are then added to
 * every command (hidden in its help) so they still work after the command name.
 */
function acceptGlobalsAfter(cmd: Command): void {
  if (cmd.commands.length > 0) {
    for (const c of cmd.commands) acceptGlobalsAfter(c);
    return;
  }
  for (const [flags, description] of GLOBAL_OPTIONS) {
    const o = new Option(flags, description).hideHelp();
    if (cmd.options.some((x) => x.long === o.long)) continue;
    cmd.addOption(o);
  }
  cmd.addHelpText(
    'after',
    '\nProgram options (--registry, --admin, --registry-id, --token, --json) may come before or after the command: see ronctl --help.',
  );
}

export function buildProgram(): Command {
  const program = new Command('ronctl')
    .description(
      'RON operator CLI: keys, signing, registry governance, watch, verify, capabilities, status, cas',
    )
    .enablePositionalOptions()
    // Usage errors (unknown command, option or argument; a missing one) exit 64 (SPEC §1.6).
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 64))
    .version(
      buildInfo().version,
      '-V, --version',
      'print ronctl’s version (before a command only; after one, --version is that command’s option)',
    );
  for (const [flags, description] of GLOBAL_OPTIONS) program.option(flags, description);
  program
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nProgram options go before the command or after it; -V/--version only before it\n' +
        '(ronctl registry get ID --version 1 shows descriptor version 1).\n' +
        'Exit codes: 0 ok, 1 failed (the error and a hint say why), 64 usage (a bad flag, argument or target URL).',
    );
  keygen(program);
  sign(program);
  const registry = program
    .command('registry')
    .description('svc-registry: head, descriptors, proposals, watch, verify');
  registryHead(registry);
  registryGet(registry);
  registryShow(registry);
  registryPropose(registry);
  registryApprove(registry);
  registryApply(registry);
  registryPublish(registry);
  registryWatch(registry);
  registryVerify(registry);
  const cap = program.command('cap').description('capabilities (macaroons) for governance writes');
  capKeygen(cap);
  capMint(cap);
  status(program);
  program
    .command('version')
    .description('print build info')
    .action(() => void process.stdout.write(versionLine('ronctl')));
  cas(program);
  indexNames(program);
  mailbox(program);
  for (const c of program.commands) acceptGlobalsAfter(c);
  return program;
}

/** Entry point of bin/ronctl.js. */
export function cli(argv = process.argv): void {
  buildProgram()
    .parseAsync(argv)
    .catch((err: unknown) => {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = 1;
    });
}
