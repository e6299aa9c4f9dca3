import { fork, type ChildProcess } from 'node:child_process';

/** Runners bin/macronode.js forked before loading the host (see there). */
function preforked(): ChildProcess[] {
  const g = globalThis as { __macronodePrefork?: ChildProcess[] };
  return (g.__macronodePrefork ??= []);
}

const alive = (p: ChildProcess): boolean => p.connected && p.exitCode === null && p.signalCode === null;

/**
 * Where plane processes come from: runners pre-forked by the bin at cold start, then one warm spare
 * (its shared modules already loaded, which cuts a restart's start-up time), else a fresh fork.
 */
export class RunnerPool {
  readonly #runner: string;
  #spare: ChildProcess | undefined;
  #spareExit: (() => void) | undefined;
  #closed = false;

  constructor(runner: string) {
    this.#runner = runner;
  }

  fork(label: string): ChildProcess {
    return fork(this.#runner, [label], {
      // stdout inherited (one writer per process keeps each process's lines in order); stderr is
      // read by the supervisor for the last error line.
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'json',
      // Own process group: a terminal's Ctrl-C (or `timeout`) signalling our group must not stop
      // planes before the gateway drains; the supervisor stops them in order. If we die, the IPC
      // channel closes and the runner exits by itself.
      detached: true,
    });
  }

  /** A runner for `plane`; taking the spare calls `refill` a second later. */
  take(plane: string, refill: () => void): ChildProcess {
    const pre = preforked();
    while (pre.length > 0) {
      const p = pre.shift()!;
      if (alive(p)) return p;
    }
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined && alive(spare)) {
      if (this.#spareExit) spare.off('exit', this.#spareExit);
      setTimeout(refill, 1000).unref();
      return spare;
    }
    return this.fork(plane);
  }

  /** Forks the warm spare if there is none. */
  warm(): void {
    if (this.#closed || this.#spare !== undefined) return;
    const proc = this.fork('spare');
    proc.stderr!.resume();
    this.#spareExit = () => {
      if (this.#spare === proc) this.#spare = undefined;
    };
    proc.once('exit', this.#spareExit);
    this.#spare = proc;
  }

  releasePreforked(): void {
    for (const p of preforked().splice(0)) p.kill('SIGTERM');
  }

  get sparePid(): number | null {
    return this.#spare?.pid ?? null;
  }

  close(): void {
    this.#closed = true;
    this.#spare?.kill('SIGTERM');
    this.#spare = undefined;
    this.releasePreforked();
  }
}
