import type { Logger } from '@ron/kernel';
import type { Delivery, MailboxStore, ReceiptResult } from './mailbox-store.js';
import type { MailboxMetrics } from './metrics.js';

interface Waiter {
  topic: string;
  max: number;
  visibilityMs: number;
  resolve: (messages: Delivery[]) => void;
  timer: NodeJS.Timeout;
  done: boolean;
}

export interface MailboxOptions {
  store: MailboxStore;
  metrics: MailboxMetrics;
  logger: Logger;
  sweepIntervalMs: number;
}

/**
 * The mailbox service: the store plus long-poll waiters, metrics and housekeeping. A receive that
 * finds nothing waits (FIFO per topic); anything that makes a message visible — an enqueue, a nack,
 * a redrive, a lease or delay running out — hands it to the oldest waiter at once. Closing answers
 * every waiter immediately with an empty list.
 */
export class Mailbox {
  readonly #store: MailboxStore;
  readonly #metrics: MailboxMetrics;
  readonly #log: Logger;
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #pumping = new Map<string, boolean>();
  readonly #wakeTimers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #sweep: NodeJS.Timeout;
  #closing = false;

  constructor(opts: MailboxOptions) {
    this.#store = opts.store;
    this.#metrics = opts.metrics;
    this.#log = opts.logger;
    for (const t of this.#store.topics()) this.#metrics.counters(t);
    this.#sweep = setInterval(() => void this.#housekeep(), opts.sweepIntervalMs);
    this.#sweep.unref();
  }

  get store(): MailboxStore {
    return this.#store;
  }

  async enqueue(topic: string, body: Buffer, idemKey?: string): Promise<{ id: string; duplicate: boolean }> {
    const r = await this.#store.enqueue(topic, body, idemKey);
    if (!r.duplicate) {
      this.#metrics.counters(topic).enqueued.inc();
      this.#pump(topic);
    }
    return r;
  }

  /** Leases what is visible now; with `waitMs` > 0 and nothing visible, waits for a message. */
  async receive(
    topic: string,
    max: number,
    visibilityMs: number,
    waitMs: number,
    gone?: (onGone: () => void) => void,
  ): Promise<Delivery[]> {
    const now = await this.#leaseNow(topic, max, visibilityMs);
    if (now.length > 0 || waitMs <= 0 || this.#closing) return now;
    return new Promise<Delivery[]>((resolve) => {
      const w: Waiter = {
        topic,
        max,
        visibilityMs,
        done: false,
        resolve: (m) => {
          if (w.done) return;
          w.done = true;
          clearTimeout(w.timer);
          this.#drop(w);
          resolve(m);
        },
        timer: setTimeout(() => w.resolve([]), waitMs),
      };
      const list = this.#waiters.get(topic) ?? [];
      list.push(w);
      this.#waiters.set(topic, list);
      // A receiver that hung up leases nothing.
      gone?.(() => w.resolve([]));
      // Something may have become visible between the first look and now.
      this.#pump(topic);
      this.#armWake(topic);
    });
  }

  async #leaseNow(topic: string, max: number, visibilityMs: number): Promise<Delivery[]> {
    const r = await this.#store.receive(topic, max, visibilityMs);
    const c = this.#metrics.counters(topic);
    if (r.deadLettered > 0) c.dead_lettered.inc(r.deadLettered);
    for (const m of r.messages) {
      c.delivered.inc();
      if (m.attempts > 1) c.redelivered.inc();
    }
    return r.messages;
  }

  async ack(topic: string, receipts: readonly string[]): Promise<ReceiptResult> {
    const r = await this.#store.ack(receipts);
    if (r.ok) this.#metrics.counters(topic).acked.inc(r.count);
    return r;
  }

  async nack(topic: string, receipts: readonly string[], delayMs: number): Promise<ReceiptResult> {
    const r = await this.#store.nack(receipts, delayMs);
    if (r.ok) {
      const c = this.#metrics.counters(topic);
      c.nacked.inc(r.count);
      if ((r.deadLettered ?? 0) > 0) c.dead_lettered.inc(r.deadLettered);
      if (delayMs === 0) this.#pump(topic);
      else this.#armWake(topic);
    }
    return r;
  }

  extend(receipts: readonly string[], visibilityMs: number): Promise<ReceiptResult> {
    return this.#store.extend(receipts, visibilityMs);
  }

  async redrive(topic: string, max: number): Promise<number> {
    const n = await this.#store.redrive(topic, max);
    if (n > 0) this.#pump(topic);
    return n;
  }

  /** Number of receivers currently waiting (all topics). */
  get waiting(): number {
    let n = 0;
    for (const l of this.#waiters.values()) n += l.length;
    return n;
  }

  /** Answers every waiting receiver now with an empty list; later receives do not wait. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#sweep);
    for (const t of this.#wakeTimers.values()) clearTimeout(t.timer);
    this.#wakeTimers.clear();
    for (const list of [...this.#waiters.values()]) for (const w of [...list]) w.resolve([]);
  }

  #drop(w: Waiter): void {
    const list = this.#waiters.get(w.topic);
    if (list === undefined) return;
    const i = list.indexOf(w);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(w.topic);
  }

  /** Hands visible messages to the topic's waiters, oldest waiter first, until one finds nothing. */
  #pump(topic: string): void {
    if (this.#pumping.get(topic) === true || !this.#waiters.has(topic)) return;
    this.#pumping.set(topic, true);
    void (async () => {
      try {
        for (;;) {
          const w = this.#waiters.get(topic)?.[0];
          if (w === undefined || this.#closing) break;
          this.#drop(w);
          const got = await this.#leaseNow(topic, w.max, w.visibilityMs);
          if (got.length > 0) {
            w.resolve(got);
            continue;
          }
          // Nothing visible: the waiter goes back to the head of the line (if still waiting).
          if (!w.done) this.#waiters.set(topic, [w, ...(this.#waiters.get(topic) ?? [])]);
          break;
        }
      } catch (err) {
        this.#log.error({ err, topic }, 'long-poll hand-off failed');
      } finally {
        this.#pumping.set(topic, false);
        this.#armWake(topic);
      }
    })();
  }

  /** With waiters on a topic, wakes them when its next delayed or leased message becomes visible. */
  #armWake(topic: string): void {
    if (this.#closing || !this.#waiters.has(topic) || !this.#store.isOpen()) return;
    const at = this.#store.nextVisibleAt(topic);
    const cur = this.#wakeTimers.get(topic);
    if (at === undefined || (cur !== undefined && cur.at <= at)) return;
    if (cur !== undefined) clearTimeout(cur.timer);
    const timer = setTimeout(
      () => {
        this.#wakeTimers.delete(topic);
        this.#pump(topic);
      },
      Math.max(0, at - Date.now()) + 1,
    );
    this.#wakeTimers.set(topic, { at, timer });
  }

  async #housekeep(): Promise<void> {
    if (this.#closing || !this.#store.isOpen()) return;
    try {
      const dead = await this.#store.sweep();
      for (const t of dead) this.#metrics.counters(t).dead_lettered.inc();
    } catch (err) {
      this.#log.error({ err }, 'mailbox sweep failed');
    }
  }
}
