import { connect, type Socket } from 'node:net';

export interface KeepAliveLoadOptions {
  port: number;
  host?: string;
  /** Concurrent keep-alive connections, each sending one request at a time. */
  clients: number;
  /** The raw request each client sends again and again (must not ask for `Connection: close`). */
  request: string;
}

export interface KeepAliveLoadStats {
  /** Requests written to a socket. */
  sent: number;
  /** Whole responses received. */
  answered: number;
  /** Requests written that got no response: why each connection ended (error code or "closed"). */
  unanswered: string[];
  /** Responses carrying `Connection: close`. */
  closeAnswers: number;
  /** Responses by status. */
  statuses: Record<number, number>;
  /** Responses that could not be parsed (no Content-Length, bad status line). */
  malformed: number;
}

interface Parsed {
  status: number;
  close: boolean;
  length: number;
}

/** Parses one response head; undefined when it is not whole yet. */
function parseHead(buf: Buffer): { head: Parsed | null; end: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  let length = NaN;
  let close = false;
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    const k = l.slice(0, c).trim().toLowerCase();
    const v = l
      .slice(c + 1)
      .trim()
      .toLowerCase();
    if (k === 'content-length') length = Number(v);
    else if (k === 'connection') close = v.split(',').some((t) => t.trim() === 'close');
  }
  if (!Number.isInteger(status) || !Number.isInteger(length)) return { head: null, end: end + 4 };
  return { head: { status, close, length }, end: end + 4 };
}

/**
 * Keep-alive clients on raw sockets for drain tests (SPEC §1.3a): each sends `request`, waits for the
 * whole response, and sends the next on the same connection — unless the answer said
 * `Connection: close` or the server closed the connection, in which case it reconnects. A client
 * ends when a reconnect is refused (the server stopped listening) or on `stop()`. Every request
 * written that never got a response is recorded, with how its connection ended.
 */
export class KeepAliveLoad {
  readonly stats: KeepAliveLoadStats = {
    sent: 0,
    answered: 0,
    unanswered: [],
    closeAnswers: 0,
    statuses: {},
    malformed: 0,
  };
  readonly #o: KeepAliveLoadOptions;
  readonly #done: Promise<KeepAliveLoadStats>;
  #running = 0;
  #stopping = false;
  #resolve: (s: KeepAliveLoadStats) => void = () => undefined;
  readonly #waiters: { n: number; resolve: () => void }[] = [];

  constructor(o: KeepAliveLoadOptions) {
    this.#o = o;
    this.#done = new Promise((r) => (this.#resolve = r));
    this.#running = o.clients;
    for (let i = 0; i < o.clients; i++) this.#connect();
  }

  /** Resolves once `n` responses in all have been received. */
  answered(n: number): Promise<void> {
    if (this.stats.answered >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** Resolves with the stats once every client has ended. */
  get done(): Promise<KeepAliveLoadStats> {
    return this.#done;
  }

  /** Lets each client finish its outstanding request, then ends them. */
  stop(): Promise<KeepAliveLoadStats> {
    this.#stopping = true;
    return this.#done;
  }

  #connect(): void {
    const s: Socket = connect(this.#o.port, this.#o.host ?? '127.0.0.1');
    let connected = false;
    let outstanding = false;
    let ended = false;
    let reason = 'closed';
    let buf: Buffer = Buffer.alloc(0);
    const send = (): void => {
      if (ended || this.#stopping || s.destroyed) {
        s.end();
        return;
      }
      outstanding = true;
      this.stats.sent++;
      s.write(this.#o.request);
    };
    s.on('connect', () => {
      connected = true;
      send();
    });
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      for (;;) {
        const h = parseHead(buf);
        if (h === undefined) return;
        if (h.head === null) {
          this.stats.malformed++;
          s.destroy();
          return;
        }
        if (buf.length < h.end + h.head.length) return;
        buf = buf.subarray(h.end + h.head.length);
        outstanding = false;
        this.stats.answered++;
        this.stats.statuses[h.head.status] = (this.stats.statuses[h.head.status] ?? 0) + 1;
        for (let i = this.#waiters.length - 1; i >= 0; i--) {
          if (this.stats.answered >= this.#waiters[i]!.n) this.#waiters.splice(i, 1)[0]!.resolve();
        }
        if (h.head.close) {
          this.stats.closeAnswers++;
          s.end();
          return;
        }
        // Like a real client: the next request goes out after the socket's pending events (a close
        // from the server that arrived with this answer is seen first).
        setImmediate(send);
      }
    });
    s.on('end', () => {
      ended = true;
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      reason = err.code ?? err.message;
    });
    s.on('close', () => {
      if (outstanding) this.stats.unanswered.push(reason);
      if (!connected || this.#stopping) {
        // Refused (the server stopped listening) or told to stop: this client is done.
        if (--this.#running === 0) this.#resolve(this.stats);
        return;
      }
      this.#connect();
    });
  }
}
