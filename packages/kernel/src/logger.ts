import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/**
 * Every logger made from one `createLogger` root, children included. pino children copy their
 * parent's level when they are made and never follow it afterwards, so a live level change has to
 * reach each of them (SPEC §4.6: log level is live). Weak references: per-request children die young.
 */
class LoggerFamily {
  #members = new Set<WeakRef<Logger>>();
  #sweepAt = 64;

  add(l: Logger): void {
    families.set(l, this);
    this.#members.add(new WeakRef(l));
    if (this.#members.size >= this.#sweepAt) {
      for (const r of this.#members) if (r.deref() === undefined) this.#members.delete(r);
      this.#sweepAt = Math.max(64, this.#members.size * 2);
    }
  }

  setLevel(level: string): void {
    for (const r of this.#members) {
      const l = r.deref();
      if (l === undefined) this.#members.delete(r);
      else l.level = level;
    }
  }
}

const families = new WeakMap<Logger, LoggerFamily>();

export interface CreateLoggerOptions {
  /** Human-readable lines (pino-pretty) instead of JSON; default: when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * Logs on stdout with ISO timestamps; one base field names the program. JSON lines, or
 * human-readable ones when stdout is a terminal (SPEC §1.7).
 */
export function createLogger(service: string, level = 'info', o: CreateLoggerOptions = {}): Logger {
  const family = new LoggerFamily();
  const options: LoggerOptions = {
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    onChild: (child) => family.add(child),
  };
  const human = o.pretty ?? process.stdout.isTTY === true;
  // Synchronous pretty stream (no worker thread): a terminal is read by a person, not a pipeline.
  const root = human
    ? pino(
        options,
        pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
      )
    : pino(options);
  family.add(root);
  return root;
}

/** Sets the level of `logger` and of every logger of its family (its root and all children, live). */
export function setLogLevel(logger: Logger, level: string): void {
  const family = families.get(logger);
  if (family === undefined) logger.level = level;
  else family.setLevel(level);
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
  /** No child options: a line may be written through the parent (#oneShot). */
  #plainOpts: boolean | undefined;

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
    if (this.#real === undefined) {
      if (!this.#parent.isLevelEnabled(level)) return;
      if (this.#oneShot(level, args)) return;
    }
    const real = this.logger;
    Reflect.apply(real[level], real, args);
  }

  /**
   * Writes `(fields, msg?)` through the parent with the bindings merged in front of the fields,
   * without building a child: the same line a pino child writes (its bindings come right after the
   * parent's, then the fields). Only for plain field objects that do not repeat a binding, and
   * without child options (level, serializers); false when it did not write.
   */
  #oneShot(level: Level, args: unknown[]): boolean {
    const fields = args[0];
    if (typeof fields !== 'object' || fields === null || Object.getPrototypeOf(fields) !== Object.prototype)
      return false;
    if (this.#plainOpts === undefined) this.#plainOpts = Object.keys(this.#opts).length === 0;
    if (!this.#plainOpts) return false;
    for (const k in this.#bindings) if (Object.hasOwn(fields, k)) return false;
    args[0] = { ...this.#bindings, ...fields };
    Reflect.apply(this.#parent[level], this.#parent, args);
    return true;
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
