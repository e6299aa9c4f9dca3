// The change stream (SPEC §2.3): resumable, bookmarked, bounded fan-out of log entries.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, sendError, sseFrame, type Logger } from '@ron/kernel';
import { summaryOf, type Head, type LogEntry } from './log-entry.js';
import type { RegistryMetrics } from './metrics.js';
import type { Registry } from './registry.js';
import { StreamClient } from './stream-client.js';

export interface StreamHubOptions {
  registry: Registry;
  metrics: RegistryMetrics;
  logger: Logger;
  heartbeatMs: number;
  maxClients: number;
  clientBuffer: number;
  clientBufferBytes: number;
  /**
   * `?snapshot=1` support — the current descriptors as `[event, data]` pairs, taken
   * synchronously at the head the snapshot describes. Absent → `?snapshot` is ignored.
   */
  snapshot?: () => Iterable<[string, string]>;
}

const REPLAY_PAGE = 256;

/**
 * Fans each appended entry out to live clients, formatting its frame once. New clients replay from
 * the registry's store up to the head, then go live in the same synchronous step that checks they
 * have caught up — so no entry is missed or repeated.
 */
export class StreamHub {
  readonly #o: StreamHubOptions;
  readonly #reg: Registry;
  readonly #log: Logger;
  readonly #clients = new Set<StreamClient>();
  readonly #live = new Set<StreamClient>();
  readonly #timer: NodeJS.Timeout;
  readonly #unsubscribe: () => void;
  #n = 0;
  #closing = false;

  constructor(o: StreamHubOptions) {
    this.#o = o;
    this.#reg = o.registry;
    this.#log = o.logger.child({ component: 'stream' });
    this.#unsubscribe = this.#reg.onAppend((e) => this.#fanOut(e));
    this.#timer = setInterval(() => this.#heartbeat(), o.heartbeatMs);
    this.#timer.unref();
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** True while the hub can accept and feed clients (readiness probe). */
  get alive(): boolean {
    return !this.#closing;
  }

  /** Formats an entry frame once; the string is shared by every client. */
  static entryFrame(e: LogEntry): string {
    return sseFrame('commit', JSON.stringify(summaryOf(e)), e.version);
  }

  // Entries appended in one event-loop turn are collected, encoded once into one Buffer and that
  // same Buffer is queued on every live client: one socket write per client per turn, no per-client
  // string joins or UTF-8 encoding.
  #batch: string[] = [];
  #batchFirst = 0;
  #batchLast = 0;
  #batchScheduled = false;

  #fanOut(e: LogEntry): void {
    if (this.#live.size === 0) return;
    if (this.#batch.length === 0) this.#batchFirst = e.version;
    this.#batch.push(StreamHub.entryFrame(e));
    this.#batchLast = e.version;
    if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      setImmediate(() => this.#flushBatch());
    }
  }

  #flushBatch(): void {
    this.#batchScheduled = false;
    const frames = this.#batch;
    if (frames.length === 0) return;
    const first = this.#batchFirst;
    const last = this.#batchLast;
    this.#batch = [];
    let buf: Buffer | undefined;
    for (const c of this.#live) {
      if (c.cursor === first - 1) {
        buf ??= Buffer.from(frames.length === 1 ? frames[0]! : frames.join(''), 'utf8');
        c.pushBatch(buf, frames.length, last);
      } else if (c.cursor >= first && c.cursor < last) {
        // Went live mid-batch (its replay already covered the start): only the newer frames.
        for (let v = c.cursor + 1; v <= last; v++) if (!c.push(frames[v - first]!, v)) break;
      } else if (c.cursor < first - 1) {
        // Never skip silently: fall back to replay from the store.
        this.#live.delete(c);
        c.live = false;
        void this.#replay(c);
      }
    }
  }

  #heartbeatFrame(head: number): string {
    return sseFrame('heartbeat', `{"n":${++this.#n},"head":${head}}`);
  }

  #heartbeat(): void {
    if (this.#live.size === 0) return;
    // Entries still waiting in the turn's batch must be queued first, or the bookmark would lie.
    this.#flushBatch();
    // Every live client has queued every entry up to head: the bookmark holds for all of them.
    const frame = this.#heartbeatFrame(this.#reg.head.version);
    for (const c of this.#live) c.push(frame);
  }

  /** Parses the resume point: `Last-Event-ID` wins over `?from=`; none = live from the current head. */
  static resumePoint(req: FastifyRequest): number | undefined {
    const h = req.headers['last-event-id'];
    const q = (req.query as Record<string, unknown> | undefined)?.from;
    const raw = typeof h === 'string' && h !== '' ? h : typeof q === 'string' && q !== '' ? q : undefined;
    if (raw === undefined) return undefined;
    if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
      throw new ApiError('BadRequest', `resume point ${JSON.stringify(raw.slice(0, 40))} is not a version`, {
        hint: 'Last-Event-ID / ?from= take the last version you received (0 = from the beginning)',
      });
    return Number(raw);
  }

  /** Handles `GET /registry/stream`. */
  handle(req: FastifyRequest, reply: FastifyReply, headers: Record<string, string>): void {
    if (this.#closing) {
      sendError(req, reply, new ApiError('NotReady', 'the registry is shutting down'));
      return;
    }
    const from = StreamHub.resumePoint(req);
    if (this.#clients.size >= this.#o.maxClients) {
      this.#o.metrics.rejection('too_many_streams').inc();
      sendError(
        req,
        reply,
        new ApiError('TooManyStreams', `stream client limit of ${this.#o.maxClients} reached`, {
          hint: 'retry later',
        }),
      );
      return;
    }
    // HEAD (Fastify derives it from the GET route): answer the stream's headers and end. Hijacking
    // it would never send headers (a HEAD response has no body to flush them) and would hold a
    // client slot for as long as the caller waits.
    if (req.method === 'HEAD') {
      void reply
        .code(200)
        .headers({
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          ...headers,
        })
        .send();
      return;
    }
    const head = this.#reg.head.version;
    // a snapshot describes the head, so live entries follow from there.
    const snapshot =
      this.#o.snapshot !== undefined && (req.query as Record<string, unknown> | undefined)?.snapshot === '1';
    const start = snapshot ? head : (from ?? head);
    reply.hijack();
    const client = new StreamClient(reply.raw, Math.min(start, head), {
      maxEvents: this.#o.clientBuffer,
      maxBytes: this.#o.clientBufferBytes,
      headers: { ...headers, 'x-request-id': req.id, 'x-corr-id': req.id },
      onOverflow: (c) => this.#drop(c),
      onClose: (c) => this.#gone(c),
    });
    this.#clients.add(client);
    this.#o.metrics.sseConnected.inc();
    this.#o.metrics.sseClients.set(this.#clients.size);
    // A start beyond the head is a client from another registry or the future: reset it.
    const floor = this.#reg.floor();
    if (start > head || start + 1 < floor) {
      client.end('reset', JSON.stringify({ floor, head }));
      return;
    }
    if (snapshot) {
      void this.#snapshot(client, head);
      return;
    }
    void this.#replay(client);
  }

  /** descriptors as of `head`, then `event: synced {head}`, then replay/live from `head`. */
  async #snapshot(c: StreamClient, head: number): Promise<void> {
    try {
      const frames = [...this.#o.snapshot!()].map(([event, data]) => sseFrame(event, data));
      for (const frame of frames) {
        while (!c.canTake(frame.length)) {
          await c.room();
          if (c.closed) return;
        }
        if (!c.push(frame)) return;
      }
      if (!c.push(sseFrame('synced', JSON.stringify({ head })))) return;
    } catch (err) {
      this.#log.error({ err }, 'stream snapshot failed');
      c.end('error', JSON.stringify({ message: 'snapshot failed' }));
      return;
    }
    await this.#replay(c);
  }

  async #replay(c: StreamClient): Promise<void> {
    try {
      for (;;) {
        if (c.closed || c.overflowed) return;
        // Caught up? Go live in this same synchronous step: the next append is cursor+1.
        if (c.cursor >= this.#reg.head.version) {
          c.live = true;
          this.#live.add(c);
          c.push(this.#heartbeatFrame(c.cursor));
          return;
        }
        const floor = this.#reg.floor();
        if (c.cursor + 1 < floor) {
          c.end('reset', JSON.stringify({ floor, head: this.#reg.head.version }));
          return;
        }
        const page = await this.#reg.range(c.cursor, REPLAY_PAGE);
        if (page.length === 0 || page[0]!.version !== c.cursor + 1) {
          // Trimmed under us between the floor check and the read.
          const f = this.#reg.floor();
          c.end('reset', JSON.stringify({ floor: f, head: this.#reg.head.version }));
          return;
        }
        for (const e of page) {
          if (e.version !== c.cursor + 1) continue;
          const frame = StreamHub.entryFrame(e);
          // Replay is paced by this client's socket; it never overflows its own queue.
          while (!c.canTake(frame.length)) {
            await c.room();
            if (c.closed) return;
          }
          if (!c.push(frame, e.version)) return;
        }
      }
    } catch (err) {
      this.#log.error({ err }, 'stream replay failed');
      c.end('error', JSON.stringify({ message: 'replay failed' }));
    }
  }

  #drop(c: StreamClient): void {
    this.#live.delete(c);
    this.#o.metrics.sseDropped.inc();
    this.#o.metrics.busLagged.inc();
    this.#log.debug({ last_delivered: c.lastDelivered }, 'slow stream client dropped');
    c.end('dropped', JSON.stringify({ last_delivered: c.lastDelivered, head: this.#reg.head.version }));
    this.#gone(c);
  }

  #gone(c: StreamClient): void {
    this.#live.delete(c);
    if (this.#clients.delete(c)) {
      this.#o.metrics.sseDisconnected.inc();
      this.#o.metrics.sseClients.set(this.#clients.size);
    }
  }

  /** Ends every stream with a final `event: shutdown {head}` and stops the heartbeat. */
  close(): void {
    this.#flushBatch();
    this.#closing = true;
    clearInterval(this.#timer);
    this.#unsubscribe();
    const data = JSON.stringify({ head: this.#reg.head.version });
    for (const c of [...this.#clients]) {
      c.end('shutdown', data);
      this.#gone(c);
    }
  }

  /** For tests and stats: the head every live client has been queued up to. */
  get head(): Head {
    return this.#reg.head;
  }
}
