// One SSE connection with a bounded queue that knows which versions reached the socket.
import type { ServerResponse } from 'node:http';
import { sseFrame } from '@ron/kernel';

export interface StreamClientOptions {
  maxEvents: number;
  maxBytes: number;
  headers: Record<string, string>;
  retryMs?: number;
  /** Called once when the queue overflows (the hub then sends `dropped` and closes). */
  onOverflow: (c: StreamClient) => void;
  onClose: (c: StreamClient) => void;
}

/**
 * Frames queued in one event-loop turn go out in one socket write. While the socket is congested
 * frames wait; past the bound the client overflows — the writer never waits (SPEC §2.3).
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
  #frames: string[] = [];
  #versions: number[] = [];
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
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...o.headers,
    });
    res.socket?.setNoDelay(true);
    res.write(`retry: ${o.retryMs ?? 2000}\n\n`);
    res.on('drain', () => {
      this.#congested = false;
      this.#flush();
      this.#wake();
    });
    res.on('close', () => {
      this.#closed = true;
      this.#frames = [];
      this.#versions = [];
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

  /** Queued frames not yet written. */
  get pending(): number {
    return this.#frames.length;
  }

  /** Queues a preformatted frame; `version` > 0 marks an entry frame. False once closed/overflowed. */
  push(frame: string, version = 0): boolean {
    if (this.#closed || this.#overflowed) return false;
    if (this.#frames.length >= this.#o.maxEvents || this.#bytes + frame.length > this.#o.maxBytes) {
      this.#overflowed = true;
      this.#frames = [];
      this.#versions = [];
      this.#bytes = 0;
      this.#o.onOverflow(this);
      return false;
    }
    this.#frames.push(frame);
    this.#versions.push(version);
    this.#bytes += frame.length;
    if (version > 0) this.cursor = version;
    if (!this.#scheduled && !this.#congested) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return true;
  }

  /** Replay pacing: true while the queue is at most half full (an empty queue always takes one). */
  canTake(len: number): boolean {
    if (this.#frames.length === 0) return !this.#congested;
    return !this.#congested && this.#frames.length < this.#o.maxEvents / 2 && this.#bytes + len <= this.#o.maxBytes / 2;
  }

  /** Resolves at the next flush or drain (or when the client goes away). */
  room(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  /** Writes pending frames and a final event, then ends the response. */
  end(event?: string, data?: string): void {
    if (this.#closed) return;
    if (!this.#overflowed) this.#flushNow();
    if (event !== undefined) this.#res.write(sseFrame(event, data ?? '{}'));
    this.#closed = true;
    this.#res.end();
    this.#wake();
  }

  #wake(): void {
    const w = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const f of w) f();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#congested) return;
    this.#flushNow();
    if (!this.#congested) this.#wake();
  }

  #flushNow(): void {
    const n = this.#frames.length;
    if (n === 0) return;
    const chunk = n === 1 ? this.#frames[0]! : this.#frames.join('');
    for (let i = n - 1; i >= 0; i--) {
      const v = this.#versions[i]!;
      if (v > 0) {
        this.lastDelivered = v;
        break;
      }
    }
    this.#frames = [];
    this.#versions = [];
    this.#bytes = 0;
    if (!this.#res.write(chunk)) this.#congested = true;
  }
}
