// The background signature audit (SPEC §2.5). Boot verifies the hash chain, which anyone with file
// access can extend; the audit then checks every entry up to the boot head against the signer set
// in force at its version, in a worker thread so readiness and requests are not delayed. Entries
// appended after boot passed the write path's own quorum check and need no audit.
import { Worker } from 'node:worker_threads';
import type { Logger } from '@ron/kernel';
import type { AuditWorkerData, AuditWorkerReply } from './audit-worker.js';
import type { AuditFault } from './audit-check.js';
import type { SignerSet } from './governance/signer-set.js';
import type { LogStore } from './store.js';

export type AuditState = 'running' | 'ok' | 'fault' | 'skipped' | 'failed';

/** What `/readyz` shows as `audit`. */
export interface AuditStatus {
  state: AuditState;
  /** Entries verified so far. */
  checked: number;
  /** The boot head the audit covers. */
  up_to: number;
  /** The first entry whose signatures do not hold (state "fault"). */
  fault?: AuditFault;
  /** Why the audit could not run (state "skipped" or "failed"). */
  reason?: string;
  ms?: number;
}

export interface LogAuditOptions {
  store: LogStore;
  registryId: string;
  /** The configured (version 1) signer set: rotations are read from the log itself. */
  genesis: SignerSet;
  /** Audit entries 1..upTo (the head at boot). */
  upTo: number;
  logger?: Logger;
  /** Called once with the first fault. */
  onFault?: (f: AuditFault) => void;
  /** Entries per page sent to the worker (default 1000: one page read blocks the loop < ~10 ms). */
  pageSize?: number;
}

/**
 * Runs the audit in a worker thread; `done` resolves with the final status (never rejects).
 * @example const audit = new LogAudit({ store, registryId, genesis, upTo: head }); await audit.done;
 */
export class LogAudit {
  readonly done: Promise<AuditStatus>;
  #status: AuditStatus;
  #worker: Worker | undefined;
  #stopped = false;
  readonly #o: LogAuditOptions;

  constructor(o: LogAuditOptions) {
    this.#o = o;
    this.#status = { state: 'running', checked: 0, up_to: o.upTo };
    this.done = this.#run().then(
      () => this.#status,
      (err: unknown) => {
        this.#finish({ state: 'failed', reason: err instanceof Error ? err.message : String(err) });
        return this.#status;
      },
    );
  }

  get status(): AuditStatus {
    return this.#status;
  }

  /** True once a fault was found: writes must be refused. */
  get faulted(): boolean {
    return this.#status.state === 'fault';
  }

  /** Stops the worker (shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#worker?.terminate();
  }

  #finish(s: Partial<AuditStatus> & { state: AuditState }): void {
    if (this.#status.state !== 'running') return;
    this.#status = { ...this.#status, ...s };
  }

  async #run(): Promise<void> {
    // Start after the caller's turn (the ready line): not even the first page read delays start-up.
    await new Promise<void>((res) => setImmediate(res));
    const t0 = performance.now();
    const { store, upTo, logger: log } = this.#o;
    if (upTo === 0) return this.#finish({ state: 'ok', ms: 0 });
    if (store.floor() > 1) {
      // The signer sets before the floor are gone with the history: nothing to judge against.
      log?.warn({ floor: store.floor() }, 'audit skipped: history below the floor is not retained');
      return this.#finish({
        state: 'skipped',
        reason: `history below version ${store.floor()} is not retained`,
      });
    }
    const data: AuditWorkerData = { registry: this.#o.registryId, genesis: this.#o.genesis };
    const worker = new Worker(new URL('./audit-worker.js', import.meta.url), { workerData: data });
    this.#worker = worker;
    // The worker is a helper, not a reason to keep the process alive.
    worker.unref();
    const replies: ((r: AuditWorkerReply | Error) => void)[] = [];
    worker.on('message', (r: AuditWorkerReply) => replies.shift()?.(r));
    worker.on('error', (err) => replies.shift()?.(err));
    worker.on('exit', () => replies.shift()?.(new Error('the audit worker exited')));
    const ask = (page: unknown): Promise<AuditWorkerReply> =>
      new Promise((res, rej) => {
        replies.push((r) => (r instanceof Error ? rej(r) : res(r)));
        worker.postMessage(page);
      });
    const pageSize = this.#o.pageSize ?? 1000;
    try {
      let after = 0;
      // Read the next page while the worker verifies this one.
      let next = store.range(after, Math.min(pageSize, upTo - after));
      while (after < upTo && !this.#stopped) {
        const page = await next;
        if (page.length === 0) throw new Error(`the store has no entry after version ${after}`);
        const last = page.at(-1)!.version;
        const reply = ask(page);
        after = last;
        if (after < upTo) next = store.range(after, Math.min(pageSize, upTo - after));
        const r = await reply;
        if ('fault' in r) {
          this.#finish({ state: 'fault', fault: r.fault, ms: performance.now() - t0 });
          log?.error(
            { event: 'audit_fault', version: r.fault.version, reason: r.fault.reason },
            `audit fault at version ${r.fault.version}: ${r.fault.reason}; writes are refused`,
          );
          this.#o.onFault?.(r.fault);
          return;
        }
        this.#status = { ...this.#status, checked: this.#status.checked + r.checked };
      }
      if (this.#stopped) return;
      const ms = performance.now() - t0;
      this.#finish({ state: 'ok', ms });
      log?.info(
        { event: 'audit_ok', entries: this.#status.checked, ms: Math.round(ms) },
        'audit complete: every entry is signed by the signer set in force at its version',
      );
    } finally {
      await worker.terminate();
    }
  }
}
