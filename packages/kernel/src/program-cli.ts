import { Command, Option } from 'commander';
import { buildInfo, versionLine } from './build-info.js';
import { parseCli } from './cli.js';
import {
  loadConfig,
  printConfig,
  type ConfigOf,
  type Field,
  type LoadOptions,
  type LoadedConfig,
  type Schema,
} from './config.js';
import { createLogger, type Logger } from './logger.js';
import { runMain } from './main.js';

// One command line for every single-plane program (SPEC §1.6): `run` (the default), `config print`
// and `version`, with the run flags derived from the config schema — every field that names a
// `flag` becomes `--<kebab-name>`, its help text the field's doc, env name and default — so flags,
// env names and `--help` cannot drift from the schema. Usage errors exit 64 through `parseCli`.

type Flags = Record<string, unknown>;

export interface ProgramCliOptions<S extends Schema> {
  /** The program's name as typed and logged, e.g. `svc-index`. */
  name: string;
  /** One line for `--help`. */
  description: string;
  /** What the default command does, e.g. `run the index`. */
  runs: string;
  schema: S;
  /**
   * The env prefix the program owns, e.g. `INDEX_`: the config file comes from `<prefix>CONFIG`,
   * nested overrides are `<prefix><SECTION>__<KEY>`, and an unknown `<prefix>*` variable is a warning.
   */
  envPrefix: string;
  validate?: LoadOptions<S>['validate'];
  /** Starts the program with signal handling (binds, opens its store, logs its ready line). */
  start(config: ConfigOf<S>, logger: Logger): Promise<unknown>;
}

const PLACEHOLDER: Readonly<Record<Field<unknown>['kind'], string>> = {
  string: 'value',
  int: 'n',
  number: 'n',
  bool: '',
  duration: 'duration',
  size: 'size',
  list: 'list',
  enum: 'value',
};

function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function shownDefault(f: Field<unknown>): string | undefined {
  if (f.kind === 'bool' || f.secret === true) return undefined;
  const d = f.default;
  if (d === undefined || d === '' || (Array.isArray(d) && d.length === 0)) return undefined;
  if (Array.isArray(d)) return d.join(',');
  return typeof d === 'string' || typeof d === 'number' ? String(d) : undefined;
}

/** The run flags of a schema: one commander option per field that names a `flag`. */
export function schemaOptions(schema: Schema): Option[] {
  const out: Option[] = [];
  for (const f of Object.values(schema)) {
    if (f.flag === undefined) continue;
    const long = `--${kebab(f.flag)}`;
    const placeholder = f.kind === 'enum' ? (f.values ?? []).join('|') : PLACEHOLDER[f.kind];
    const env = f.env?.[0];
    const def = shownDefault(f);
    const facts = [
      env !== undefined ? `env: ${env}` : undefined,
      def !== undefined ? `default ${def}` : undefined,
    ]
      .filter((s) => s !== undefined)
      .join('; ');
    out.push(
      new Option(
        placeholder === '' ? long : `${long} <${placeholder}>`,
        `${f.doc}${facts ? ` (${facts})` : ''}`,
      ),
    );
  }
  return out;
}

/**
 * Builds the program's command line; call the result with `process.argv`.
 *
 * @example
 * export const cli = programCli({ name: 'svc-index', description: '…', runs: 'run the index',
 *   schema, validate, envPrefix: 'INDEX_', start: (config, logger) => startIndex({ config, logger, installSignals: true }) });
 */
export function programCli<S extends Schema>(o: ProgramCliOptions<S>): (argv?: readonly string[]) => void {
  const fileEnv = `${o.envPrefix}CONFIG`;
  const load = (flags: Flags): LoadedConfig<S> =>
    loadConfig({
      schema: o.schema,
      file: flags.config as string | undefined,
      fileEnv,
      flags,
      nestedEnvPrefix: o.envPrefix,
      envPrefixes: [o.envPrefix],
      ...(o.validate !== undefined ? { validate: o.validate } : {}),
    });
  const withRunFlags = (cmd: Command): Command => {
    cmd.option('-c, --config <path>', `TOML or JSON config file (env: ${fileEnv})`);
    for (const opt of schemaOptions(o.schema)) cmd.addOption(opt);
    return cmd;
  };
  return (argv = process.argv) => {
    const program = new Command(o.name)
      .description(o.description)
      .enablePositionalOptions() // -V, --version only before the command
      .version(buildInfo().version, '-V, --version', 'print the version');
    withRunFlags(
      program.command('run', { isDefault: true }).description(`${o.runs} (default command)`),
    ).action((flags: Flags) =>
      runMain(
        o.name,
        async () => {
          const loaded = load(flags);
          const log = createLogger(
            o.name,
            String((loaded.config as { log_level?: string }).log_level ?? 'info'),
          );
          for (const w of loaded.warnings) log.warn(w);
          await o.start(loaded.config, log);
        },
        1,
      ),
    );
    const config = program.command('config').description('inspect configuration');
    withRunFlags(config.command('print').description('print the effective config with each value’s source'))
      .option('--json', 'JSON output')
      .action((flags: Flags) => {
        process.exitCode = printConfig(o.name, () => load(flags), { json: flags.json === true });
      });
    program
      .command('version')
      .description('print build info')
      .action(() => void process.stdout.write(versionLine(o.name)));
    parseCli(program, argv);
  };
}
