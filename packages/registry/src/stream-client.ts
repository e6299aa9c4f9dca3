// One change-stream connection: the kernel's SseStream plus where its client is in the log.
import type { ServerResponse } from 'node:http';
import { SseStream } from '@ron/kernel';

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
 * The queue, its one socket write per turn, congestion and overflow (the writer never waits,
 * SPEC §2.3) are the kernel's `SseStream`; this adds the replay/live cursor and which entry versions
 * reached the socket.
 */
export class StreamClient {
  /** Highest version queued (the replay/live cursor). */
  cursor: number;
  /** False while replaying from the store; live clients get fan-out frames. */
  live = false;
  readonly #start: number;
  readonly #sse: SseStream;

  constructor(res: ServerResponse, start: number, o: StreamClientOptions) {
    this.#start = start;
    this.cursor = start;
    this.#sse = new SseStream(res, {
      maxEvents: o.maxEvents,
      maxBytes: o.maxBytes,
      headers: o.headers,
      retryMs: o.retryMs,
      onOverflow: () => o.onOverflow(this),
      onClose: () => o.onClose(this),
    });
  }

  /** Highest version handed to the socket. */
  get lastDelivered(): number {
    return Math.max(this.#start, this.#sse.delivered);
  }

  get closed(): boolean {
    return this.#sse.closed;
  }

  get overflowed(): boolean {
    return this.#sse.overflowed;
  }

  /** Queued events not yet written. */
  get pending(): number {
    return this.#sse.pending;
  }

  /** Queues one preformatted frame; `version` > 0 marks an entry frame. False once closed/overflowed. */
  push(frame: string, version = 0): boolean {
    if (!this.#sse.sendRaw(frame, version)) return false;
    if (version > 0) this.cursor = version;
    return true;
  }

  /**
   * Queues a batch of consecutive entry frames already encoded once for every client and writes it
   * now (the hub calls this once per turn). False once closed/overflowed.
   */
  pushBatch(buf: Buffer, events: number, lastVersion: number): boolean {
    if (!this.#sse.sendBatch(buf, events, lastVersion)) return false;
    this.cursor = lastVersion;
    return true;
  }

  /** Replay pacing: true while the queue is at most half full (an empty queue always takes one). */
  canTake(len: number): boolean {
    return this.#sse.canTake(len);
  }

  /** Resolves at the next flush or drain (or when the client goes away). */
  room(): Promise<void> {
    return this.#sse.room();
  }

  /** Writes pending frames and a final event, then ends the response. */
  end(event?: string, data?: string): void {
    this.#sse.end(event, data);
  }
}
