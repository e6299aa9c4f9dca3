// One SSE connection with a bounded queue that knows which versions reached the socket.
import type { ServerResponse } from 'node:http';
import { openSseResponse, sseFrame } from '@ron/kernel';

export interface StreamClientOptions {
  maxEvents: number;
  maxBytes: number;
  headers: Record<string, string>;
  retryMs?: number;
  /** Called once when the queue overflows (the hub then sends `dropped` and closes). */
  onOverflow: (c: StreamClient) => void;
  onClose: (c: StreamClient) => void;
}

/** A queued chunk: one frame (string) or a batch of frames shared by many clients (Buffer). */
interface Item {
  data: string | Buffer;
  events: number;
  bytes: number;
  /** Highest entry version inside, 0 for none (heartbeat). */
  version: number;
}

/**
 * Frames queued in one event-loop turn go out in one socket write. While the socket is congested
 * frames wait; past the bound (events or bytes) the client overflows — the writer never waits
 * (SPEC §2.3).
 */
export class StreamClient {
  /** Highest version handed to the socket. */
  lastDelivered: number;
  /** Highest version queued (the replay/live cursor). */
  cursor: number;
  /** False while replaying from the store; live clients get fan-out frames. */
  live = false;
  readonly #res: ServerResponse;
  readonly #o: StreamClientOptions;
  #items: Item[] = [];
  #events = 0;
  #bytes = 0;
  #scheduled = false;
  #congested = false;
  #closed = false;
  #overflowed = false;
  #drainWaiters: (() => void)[] = [];

  constructor(res: ServerResponse, start: number, o: StreamClientOptions) {
    this.#res = res;
    this.#o = o;
    this.lastDelivered = start;
    this.cursor = start;
    openSseResponse(res, o.headers, o.retryMs);
    res.on('drain', () => {
      this.#congested = false;
      this.flush();
      this.#wake();
    });
    res.on('close', () => {
      this.#closed = true;
      this.#items = [];
      this.#wake();
      o.onClose(this);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Queued events not yet written. */
  get pending(): number {
    return this.#events;
  }

  /** Queues one preformatted frame; `version` > 0 marks an entry frame. False once closed/overflowed. */
  push(frame: string, version = 0): boolean {
    return this.#enqueue({ data: frame, events: 1, bytes: frame.length, version }, true);
  }

  /**
   * Queues a batch of consecutive entry frames already encoded once for every client; the caller
   * flushes (it runs at the end of the turn). False once closed/overflowed.
   */
  pushBatch(buf: Buffer, events: number, lastVersion: number): boolean {
    return this.#enqueue({ data: buf, events, bytes: buf.length, version: lastVersion }, false);
  }

  #enqueue(item: Item, schedule: boolean): boolean {
    if (this.#closed || this.#overflowed) return false;
    if (this.#events + item.events > this.#o.maxEvents || this.#bytes + item.bytes > this.#o.maxBytes) {
      this.#overflowed = true;
      this.#items = [];
      this.#events = 0;
      this.#bytes = 0;
      this.#o.onOverflow(this);
      return false;
    }
    this.#items.push(item);
    this.#events += item.events;
    this.#bytes += item.bytes;
    if (item.version > 0) this.cursor = item.version;
    if (schedule && !this.#scheduled && !this.#congested) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Replay pacing: true while the queue is at most half full (an empty queue always takes one). */
  canTake(len: number): boolean {
    if (this.#items.length === 0) return !this.#congested;
    return (
      !this.#congested && this.#events < this.#o.maxEvents / 2 && this.#bytes + len <= this.#o.maxBytes / 2
    );
  }

  /** Resolves at the next flush or drain (or when the client goes away). */
  room(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  /** Writes pending frames and a final event, then ends the response. */
  end(event?: string, data?: string): void {
    if (this.#closed) return;
    if (!this.#overflowed) this.#writeQueued();
    if (event !== undefined) this.#res.write(sseFrame(event, data ?? '{}'));
    this.#closed = true;
    this.#res.end();
    this.#wake();
  }

  /** Writes everything queued in one socket write, unless the socket is congested. */
  flush(): void {
    if (this.#closed || this.#congested) return;
    this.#writeQueued();
    if (!this.#congested) this.#wake();
  }

  #wake(): void {
    const w = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const f of w) f();
  }

  #writeQueued(): void {
    const items = this.#items;
    const n = items.length;
    if (n === 0) return;
    let chunk: string | Buffer;
    if (n === 1) chunk = items[0]!.data;
    else if (items.every((i) => typeof i.data === 'string')) chunk = items.map((i) => i.data).join('');
    else chunk = Buffer.concat(items.map((i) => (typeof i.data === 'string' ? Buffer.from(i.data) : i.data)));
    for (let i = n - 1; i >= 0; i--) {
      const v = items[i]!.version;
      if (v > 0) {
        this.lastDelivered = v;
        break;
      }
    }
    this.#items = [];
    this.#events = 0;
    this.#bytes = 0;
    if (!this.#res.write(chunk)) this.#congested = true;
  }
}
