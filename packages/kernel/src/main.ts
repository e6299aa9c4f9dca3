import { ConfigError, EX_CONFIG } from './config.js';

// The exit codes of every program (SPEC §1.6; sysexits.h numbering).
export const EX_OK = 0;
/** An unknown command, flag or argument: nothing was started. */
export const EX_USAGE = 64;
/** A corrupt store (a broken hash chain, an unreadable row). */
export const EX_DATAERR = 65;
/** A port in use, a store locked by another process or that cannot open. */
export const EX_UNAVAILABLE = 69;
export { EX_CONFIG };

/** The table every program's `--help` ends with. */
export const EXIT_CODES_HELP =
  'Exit codes:\n' +
  '  0   ok (clean shutdown)\n' +
  '  1   unexpected failure\n' +
  '  64  usage: unknown command, flag or argument (nothing started)\n' +
  '  65  data: a corrupt store\n' +
  '  69  unavailable: a port in use, a store locked or unable to open\n' +
  '  78  config: invalid configuration (every problem listed)';

/**
 * Runs a program's async main: config errors exit 78 with every issue listed; other start-up
 * failures exit with `failCode` (default 1) and a one-line reason.
 */
export function runMain(name: string, main: () => Promise<void>, failCode = 1): void {
  // A main that throws before returning its promise is handled exactly like a rejection.
  let run: Promise<void>;
  try {
    run = main();
  } catch (err) {
    run = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  run.catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    // A port in use is the environment, not a bug: 69 like a locked store (SPEC §1.6).
    const errno = (err as NodeJS.ErrnoException | undefined)?.code;
    const code =
      err instanceof StartupError ? err.exitCode : errno === 'EADDRINUSE' ? EX_UNAVAILABLE : failCode;
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${name}: ${msg}\n`);
    process.exit(code);
  });
}

/** A start-up failure with its own exit code (e.g. micronode's store cannot open → 69). */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}
