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
