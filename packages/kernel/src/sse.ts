import type { ServerResponse } from 'node:http';

export interface SseOptions {
  /** `retry:` sent on connect (ms). */
  retryMs?: number;
  /** Max queued events not yet handed to the socket. */
  maxEvents?: number;
  /** Max queued bytes not yet handed to the socket. */
  maxBytes?: number;
  /** Called once when the queue overflows; the caller sends a final event and closes. */
  onOverflow?: () => void;
  /** Extra response headers (CORS, request id). */
  headers?: Record<string, string>;
}

/** Formats one SSE frame. Multi-line data is split into several `data:` lines. */
export function sseFrame(event: string, data: string, id?: string | number): string {
  let out = `event: ${event}\n`;
  if (id !== undefined) out += `id: ${id}\n`;
  if (data.includes('\n')) for (const line of data.split('\n')) out += `data: ${line}\n`;
  else out += `data: ${data}\n`;
  return `${out}\n`;
}

/**
 * Starts an SSE response: 200 with the event-stream headers (no caching, no proxy buffering), Nagle
 * off so small frames leave at once, and the client's reconnect delay (`retry:`, default 2000 ms).
 */
export function openSseResponse(
  res: ServerResponse,
  headers: Record<string, string> = {},
  retryMs = 2000,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  res.socket?.setNoDelay(true);
  res.write(`retry: ${retryMs}\n\n`);
}

/**
 * One SSE connection with a bounded outgoing queue. Frames queued in one event-loop turn go out in
 * one socket write; while the socket is congested frames wait in the queue, and past the bound the
 * stream overflows (writers never wait for readers, SPEC §2.3).
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #onOverflow: (() => void) | undefined;
  #queue: string[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  #congested = false;
  #closed = false;
  #overflowed = false;

  constructor(res: ServerResponse, opts: SseOptions = {}) {
    this.#res = res;
    this.#maxEvents = opts.maxEvents ?? 1024;
    this.#maxBytes = opts.maxBytes ?? 1024 * 1024;
    this.#onOverflow = opts.onOverflow;
    openSseResponse(res, opts.headers, opts.retryMs);
    res.on('drain', () => {
      this.#congested = false;
      this.#flush();
    });
    res.on('close', () => {
      this.#closed = true;
      this.#queue = [];
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Queues a frame; returns false if the stream is closed or overflowed (frame not queued). */
  send(event: string, data: string, id?: string | number): boolean {
    return this.sendRaw(sseFrame(event, data, id));
  }

  /** Queues a preformatted frame (lets a hub format once for many clients). */
  sendRaw(frame: string): boolean {
    if (this.#closed || this.#overflowed) return false;
    if (this.#queue.length >= this.#maxEvents || this.#queuedBytes + frame.length > this.#maxBytes) {
      this.#overflowed = true;
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#onOverflow?.();
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    if (!this.#scheduled && !this.#congested) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return true;
  }

  /** Writes a last frame directly (bypassing bounds) and ends the response. */
  end(finalEvent?: string, data?: string): void {
    if (this.#closed) return;
    this.#flushNow();
    if (finalEvent !== undefined) this.#res.write(sseFrame(finalEvent, data ?? '{}'));
    this.#closed = true;
    this.#res.end();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#congested) return;
    this.#flushNow();
  }

  #flushNow(): void {
    if (this.#queue.length === 0) return;
    const chunk = this.#queue.length === 1 ? this.#queue[0]! : this.#queue.join('');
    this.#queue = [];
    this.#queuedBytes = 0;
    if (!this.#res.write(chunk)) this.#congested = true;
  }
}
