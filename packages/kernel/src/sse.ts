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
  /** Called once when the connection closes (the client went away, or after `end()`). */
  onClose?: () => void;
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
 * one socket write; while the socket is congested frames wait in the queue, and past the bound
 * (events or bytes) the stream overflows (writers never wait for readers, SPEC §2.3).
 *
 * A queued chunk is one frame (string) or a batch of frames encoded once into a Buffer shared by many
 * streams (counted as its frames toward `maxEvents`). A chunk may name the highest version inside;
 * `delivered` reports the highest version handed to the socket.
 *
 * @example
 * const stream = new SseStream(reply.raw, { onOverflow: () => stream.end('Lagged') });
 * stream.send('tick', JSON.stringify({ n: 1 }), 1);
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #onOverflow: (() => void) | undefined;
  readonly #queue: (string | Buffer)[] = [];
  #hasBuffer = false;
  #events = 0;
  #bytes = 0;
  #queuedVersion = 0;
  #delivered = 0;
  #waiters: (() => void)[] = [];
  #scheduled = false;
  #congested = false;
  #closed = false;
  #overflowed = false;
  // One bound callback for every scheduled flush (no closure per turn).
  readonly #onTurn = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(res: ServerResponse, opts: SseOptions = {}) {
    this.#res = res;
    this.#maxEvents = opts.maxEvents ?? 1024;
    this.#maxBytes = opts.maxBytes ?? 1024 * 1024;
    this.#onOverflow = opts.onOverflow;
    const onClose = opts.onClose;
    openSseResponse(res, opts.headers, opts.retryMs);
    res.on('drain', () => {
      this.#congested = false;
      this.flush();
    });
    res.on('close', () => {
      this.#closed = true;
      this.#clear();
      this.#wake();
      onClose?.();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Events queued and not yet handed to the socket. */
  get pending(): number {
    return this.#events;
  }

  /** Highest version handed to the socket (0 until a chunk that names one was written). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Queues a frame; returns false if the stream is closed or overflowed (frame not queued). */
  send(event: string, data: string, id?: string | number): boolean {
    return this.sendRaw(sseFrame(event, data, id));
  }

  /**
   * Queues a preformatted frame (lets a hub format once for many clients); it goes out at the end of
   * this turn. `version` > 0 is the highest version inside, for `delivered`. False if the stream is
   * closed or overflowed (frame not queued).
   */
  sendRaw(frame: string, version = 0): boolean {
    if (!this.#enqueue(frame, 1, frame.length, version)) return false;
    if (!this.#scheduled && !this.#congested) {
      this.#scheduled = true;
      setImmediate(this.#onTurn);
    }
    return true;
  }

  /**
   * Queues `events` frames encoded once into a Buffer (shared as is by every stream it goes to) and
   * writes the queue now: the caller has already gathered this turn's frames. The Buffer counts as
   * `events` toward `maxEvents` and its length toward `maxBytes`; `version` as in `sendRaw`.
   */
  sendBatch(chunk: Buffer, events: number, version = 0): boolean {
    if (!this.#enqueue(chunk, events, chunk.length, version)) return false;
    this.flush();
    return true;
  }

  /**
   * Pacing for a producer that must not overflow its own stream (a replay): true while the socket
   * is not congested and the queue is at most half full (an empty queue always takes one frame).
   */
  canTake(bytes: number): boolean {
    if (this.#congested) return false;
    if (this.#queue.length === 0) return true;
    return this.#events < this.#maxEvents / 2 && this.#bytes + bytes <= this.#maxBytes / 2;
  }

  /** Resolves at the next write that leaves the socket uncongested, or when the stream closes. */
  room(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Writes everything queued in one socket write, unless the socket is congested (then at drain). */
  flush(): void {
    if (this.#closed || this.#congested) return;
    this.#write();
    if (!this.#congested) this.#wake();
  }

  /** Writes what is queued and a last frame directly (bypassing bounds), then ends the response. */
  end(finalEvent?: string, data?: string): void {
    if (this.#closed) return;
    this.#write();
    if (finalEvent !== undefined) this.#res.write(sseFrame(finalEvent, data ?? '{}'));
    this.#closed = true;
    this.#res.end();
    this.#wake();
  }

  #enqueue(chunk: string | Buffer, events: number, bytes: number, version: number): boolean {
    if (this.#closed || this.#overflowed) return false;
    if (this.#events + events > this.#maxEvents || this.#bytes + bytes > this.#maxBytes) {
      this.#overflowed = true;
      this.#clear();
      this.#onOverflow?.();
      return false;
    }
    this.#queue.push(chunk);
    if (typeof chunk !== 'string') this.#hasBuffer = true;
    this.#events += events;
    this.#bytes += bytes;
    if (version > this.#queuedVersion) this.#queuedVersion = version;
    return true;
  }

  #write(): void {
    const q = this.#queue;
    if (q.length === 0) return;
    // One chunk (the fan-out's shared Buffer) goes out as is; several are joined into one write.
    const chunk = q.length === 1 ? q[0]! : this.#hasBuffer ? concat(q) : q.join('');
    if (this.#queuedVersion > this.#delivered) this.#delivered = this.#queuedVersion;
    this.#clear();
    if (!this.#res.write(chunk)) this.#congested = true;
  }

  #clear(): void {
    this.#queue.length = 0;
    this.#hasBuffer = false;
    this.#events = 0;
    this.#bytes = 0;
    this.#queuedVersion = 0;
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

function concat(q: (string | Buffer)[]): Buffer {
  return Buffer.concat(q.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
}
