import { ConfigError, EX_CONFIG } from './config.js';

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
    const code = err instanceof StartupError ? err.exitCode : failCode;
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${name}: ${msg}\n`);
    process.exit(code);
  });
}

/** A start-up failure with its own exit code (e.g. micronode's store cannot open → 2). */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}
