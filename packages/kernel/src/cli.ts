import type { Command, CommanderError } from 'commander';
import { closest } from './config.js';
import { EXIT_CODES_HELP, EX_USAGE } from './main.js';

// One command-line discipline for every program (SPEC §1.6): an unknown command, flag or stray
// argument exits 64 (EX_USAGE) naming the closest valid command, and nothing is started on a typo.

function each(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const c of cmd.commands) each(c, fn);
}

function usage(program: Command, message: string): never {
  process.stderr.write(`${program.name()}: ${message}\n(see '${program.name()} --help')\n`);
  process.exit(EX_USAGE);
}

/**
 * Parses `argv` with `program` after making every command strict: unknown options and excess
 * arguments are errors, usage errors exit 64, help and version exit 0, and `--help` of every
 * command ends with the exit-code table.
 *
 * @example
 * parseCli(new Command('micronode').command('run', { isDefault: true }).action(run).parent!, process.argv);
 */
export function parseCli(program: Command, argv: readonly string[] = process.argv): void {
  const name = program.name();
  each(program, (c) => {
    c.allowExcessArguments(false)
      .allowUnknownOption(false)
      .showSuggestionAfterError(true)
      .configureOutput({ outputError: (str, write) => write(`${name}: ${str.replace(/^error: /, '')}`) })
      .exitOverride((err: CommanderError) => {
        const ok =
          err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0;
        if (!ok) process.stderr.write(`(see '${name} --help')\n`);
        process.exit(ok ? 0 : EX_USAGE);
      });
  });
  program.addHelpText('afterAll', `\n${EXIT_CODES_HELP}`);
  // A first word that names no command would otherwise go to the default command as an argument
  // (`macronode stauts` used to start the daemon): refuse it here, before anything runs.
  const first = argv[2];
  if (first !== undefined && !first.startsWith('-')) {
    const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    if (!names.includes(first) && first !== 'help') {
      const near = closest(first, names);
      usage(
        program,
        `unknown command '${first}'${near !== undefined ? ` (did you mean ${near}?)` : ''}; commands: ${names.join(', ')}`,
      );
    }
  }
  program.parse(argv);
}
