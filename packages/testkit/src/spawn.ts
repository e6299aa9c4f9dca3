import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SpawnOptions {
  /** Path to the program's bin script (a .js file run with the current node). */
  bin: string;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Resolve once a JSON log line has `event` equal to this (default "ready"). */
  readyEvent?: string;
  timeoutMs?: number;
  cwd?: string;
}

export interface Program {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The `url` field of the ready line. */
  readonly url: string;
  /** The whole ready line. */
  readonly ready: Record<string, unknown>;
  /** Every stdout line parsed as JSON where possible. */
  readonly lines: Record<string, unknown>[];
  /** Every stdout line as written (e.g. to check the JSON text itself for duplicate keys). */
  readonly rawLines: string[];
  readonly stderr: string[];
  /** Sends a signal and waits for exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a log line matching the predicate. */
  waitForLine(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/**
 * Every child still running when the test file's process exits is SIGKILLed by PID: a test whose
 * failure path skips its `stop()` must not leave a server (and its own children) running after the
 * suite. A program that was stopped is gone from the set already.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts a real program as a child process and waits for its ready log line. Every program logs
 * `{"event":"ready","url":...}` once it serves traffic, so tests bind port 0 and read the URL back.
 */
export function spawnProgram(opts: SpawnOptions): Promise<Program> {
  const readyEvent = opts.readyEvent ?? 'ready';
  const proc = spawn(process.execPath, [opts.bin, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const lines: Record<string, unknown>[] = [];
  const rawLines: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<(l: Record<string, unknown>) => void>();
  createInterface({ input: proc.stdout }).on('line', (text) => {
    let l: Record<string, unknown>;
    try {
      l = JSON.parse(text) as Record<string, unknown>;
    } catch {
      l = { raw: text };
    }
    lines.push(l);
    rawLines.push(text);
    for (const w of waiters) w(l);
  });
  createInterface({ input: proc.stderr }).on('line', (text) => stderr.push(text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const waitForLine = (
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const hit = lines.find(pred);
      if (hit) return resolve(hit);
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`timed out waiting for a log line; stderr: ${stderr.join('\n').slice(0, 2000)}`));
      }, timeoutMs);
      const w = (l: Record<string, unknown>): void => {
        if (pred(l)) {
          clearTimeout(t);
          waiters.delete(w);
          resolve(l);
        }
      };
      waiters.add(w);
      void exited.then(({ code, signal }) => {
        if (!waiters.has(w)) return;
        clearTimeout(t);
        waiters.delete(w);
        reject(
          new Error(
            `process exited (code ${code}, signal ${signal}) before the awaited line; stderr: ${stderr.join('\n').slice(0, 2000)}`,
          ),
        );
      });
    });

  return waitForLine((l) => l.event === readyEvent, opts.timeoutMs ?? 15_000).then(
    (ready) => ({
      proc,
      pid: proc.pid!,
      url: String(ready.url),
      ready,
      lines,
      rawLines,
      stderr,
      exited,
      waitForLine,
      stop(signal: NodeJS.Signals = 'SIGTERM') {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        return exited;
      },
    }),
    (err: unknown) => {
      proc.kill('SIGKILL');
      throw err;
    },
  );
}

/** Runs a program to completion (e.g. a CLI subcommand) and captures its output. */
export function runProgram(
  bin: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    proc.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    proc.stdin.end(opts.input ?? '');
  });
}
