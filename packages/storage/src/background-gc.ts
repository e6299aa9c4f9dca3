import type { Logger } from '@ron/kernel';
import type { CasStore } from './cas-store.js';
import type { StorageMetrics } from './metrics.js';

export interface BackgroundGcOptions {
  intervalMs: number;
  metrics: StorageMetrics;
  logger: Logger;
}

/**
 * Runs the store's GC in small steps off the request path: each step is one short transaction
 * (a batch of dead chunks) followed by file deletes, and the loop yields to the event loop between
 * steps, so uploads and reads are never blocked behind a whole-store sweep (IPFS's GC lock).
 */
export class BackgroundGc {
  readonly #store: CasStore;
  readonly #o: BackgroundGcOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(store: CasStore, o: BackgroundGcOptions) {
    this.#store = store;
    this.#o = o;
  }

  start(): void {
    this.#timer = setInterval(() => this.soon(), this.#o.intervalMs);
    this.#timer.unref();
    this.soon();
  }

  /** Runs a GC pass now unless one is running. */
  soon(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#pass()
      .catch((err: unknown) =>
        this.#o.logger.error({ err, component: 'gc' }, 'GC step failed; retrying on the next tick'),
      )
      .finally(() => (this.#running = undefined));
  }

  async #pass(): Promise<void> {
    for (;;) {
      if (this.#stopped || !this.#store.isOpen()) return;
      const r = await this.#store.gcStep();
      if (r.chunks === 0 && r.segments === 0) return;
      this.#o.metrics.gcRuns.inc();
      this.#o.metrics.gcBytesFreed.inc(r.bytes);
      this.#o.logger.debug({ component: 'gc', ...r }, 'GC step freed chunks');
      await new Promise<void>((res) => setImmediate(res));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
  }
}
