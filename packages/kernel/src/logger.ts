import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON logs on stdout with ISO timestamps; one base field names the program. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A per-request child logger that builds the real pino child only when a line is actually written
 * at an enabled level. Most requests never log, and a pino child costs more than the rest of a
 * `/healthz` request; this keeps `request_id` on every line that is written.
 */
export class LazyChildLogger {
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;
  readonly #opts: object;
  #real: Logger | undefined;

  constructor(parent: Logger, bindings: Record<string, unknown>, opts: object = {}) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#opts = opts;
  }

  /** The real child, created on first use. */
  get logger(): Logger {
    return (this.#real ??= this.#parent.child(this.#bindings, this.#opts));
  }

  #write(level: Level, args: unknown[]): void {
    if (this.#real === undefined && !this.#parent.isLevelEnabled(level)) return;
    const real = this.logger;
    Reflect.apply(real[level], real, args);
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}
  child(bindings: Record<string, unknown>, opts?: object): Logger {
    return this.logger.child(bindings, opts);
  }
  get level(): string {
    return this.#real?.level ?? this.#parent.level;
  }
  set level(v: string) {
    this.logger.level = v;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#real ?? this.#parent).isLevelEnabled(level);
  }
  bindings(): Record<string, unknown> {
    return { ...this.#parent.bindings(), ...this.#bindings };
  }
  flush(cb?: (err?: Error) => void): void {
    this.#parent.flush(cb);
  }
}
