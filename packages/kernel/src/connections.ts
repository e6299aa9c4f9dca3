import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { ApiError, envelopeText, type ErrorCode } from './errors.js';
import { ulid } from './request-id.js';

/** How a request refused before routing is answered and counted (SPEC §1.3a). */
export interface Refusal {
  status: 400 | 408 | 431;
  code: ErrorCode;
  message: string;
  /** `<prefix>_rejections_total{reason}`. */
  reason: 'malformed' | 'headers_too_large' | 'read_timeout';
}

export interface ConnectionsOptions {
  /** Called once for each request node refused before routing (metrics). */
  onRefused?: (r: Refusal) => void;
  /** While draining, a keep-alive connection that stays silent this long is closed (ms). */
  drainIdleMs?: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const kLast = Symbol('ron.lastResponse');
const kRefused = Symbol('ron.refused');
const kQuiet = Symbol('ron.quiet');
const kFlipped = Symbol('ron.closeOnDrain');

interface Quiet {
  bytes: number;
  since: number;
}
type Res = ServerResponse & { [kFlipped]?: boolean };
type Conn = Socket & { [kLast]?: Res | undefined; [kRefused]?: boolean; [kQuiet]?: Quiet | undefined };

/** Maps node's parser and timeout errors onto the answer (node would send the same statuses). */
export function refusalOf(err: NodeJS.ErrnoException): Refusal {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return {
      status: 408,
      code: 'RequestTimeout',
      message: 'request not received in time',
      reason: 'read_timeout',
    };
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return {
      status: 431,
      code: 'HeadersTooLarge',
      message: 'request headers exceed the size limit',
      reason: 'headers_too_large',
    };
  return { status: 400, code: 'BadRequest', message: 'malformed HTTP request', reason: 'malformed' };
}

/** Is this answer still owed to its connection (not yet handed whole to the socket)? */
function pending(res: ServerResponse | undefined): res is ServerResponse {
  return res !== undefined && !res.writableFinished;
}

/** Asks node to close the connection after this answer (`Connection: close`), if it would not already. */
function closeAfter(res: Res): void {
  if (res.shouldKeepAlive && !res.headersSent) {
    res.shouldKeepAlive = false;
    res[kFlipped] = true;
  }
}

/**
 * The connection rules of SPEC §1.3a for one node HTTP(S) server, below any router:
 *
 * 1. Order. Node parses pipelined requests as their bytes arrive and would start every handler at
 *    once; a request whose predecessor on the same connection is still being answered waits for that
 *    answer to be handed to the socket before its handler starts (node already writes answers in
 *    order). A request can only be parsed once the one before it was read whole, so "answered" is
 *    also "fully read". The common case (one request at a time) costs a property write and a check.
 * 2. Refusals. A request node's parser refuses (400, 431) or that is not received in time (408) is
 *    answered in the error envelope after every answer already owed on its connection, then the
 *    connection is closed; it is counted through `onRefused`.
 * 3. Drain. Once `drain()` starts, every answer not yet begun carries `Connection: close` (except one
 *    followed by an already read request on its connection: the last of those carries it), and a
 *    keep-alive connection is closed only while it is between requests and has stayed silent for
 *    `drainIdleMs` — a client that is about to reuse it gets its request answered instead of a reset.
 *    node's own `closeIdleConnections()` (called by `server.close()`) is replaced by this drain.
 */
export class Connections {
  readonly #sockets = new Set<Conn>();
  readonly #onRefused: ((r: Refusal) => void) | undefined;
  readonly #idleMs: number;
  #draining = false;
  #sweep: NodeJS.Timeout | undefined;

  constructor(opts: ConnectionsOptions = {}) {
    this.#onRefused = opts.onRefused;
    this.#idleMs = opts.drainIdleMs ?? 250;
  }

  /** True once the drain has begun. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Open connections (for tests and diagnostics). */
  get size(): number {
    return this.#sockets.size;
  }

  /** The server's request listener: runs `handler` for each request in connection order. */
  ordered(handler: Handler): Handler {
    return (req, res) => {
      const socket = req.socket as Conn;
      if (this.#draining) this.#lastOnDrain(socket, res);
      socket[kLast] = res;
      // No socket yet: node queued this answer behind one still going out on the same connection.
      if (res.socket === null) res.once('socket', () => handler(req, res));
      else handler(req, res);
    };
  }

  /** Has a later request on this answer's connection already been read (pipelined behind it)? */
  followed(res: ServerResponse): boolean {
    const last = (res.req.socket as Conn)[kLast];
    return last !== undefined && last !== res;
  }

  /** Tracks the server's connections and takes over its idle-connection close. */
  attach(server: Server): void {
    const track = (s: Conn): void => {
      s[kLast] = undefined;
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    };
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', track);
    server.closeIdleConnections = () => this.drain();
    server.once('close', () => this.#stopSweep());
  }

  /**
   * Answers a request refused before routing (the server's `clientError`): after the answers
   * already owed on the connection, then closes it.
   */
  refuse(err: NodeJS.ErrnoException, socket: Duplex): void {
    const s = socket as Conn;
    if (err.code === 'ECONNRESET' || s.destroyed || s[kRefused] === true) return;
    s[kRefused] = true;
    const r = refusalOf(err);
    this.#onRefused?.(r);
    const last = s[kLast];
    // The connection ended (or broke) inside a request's body: that request can never be read whole,
    // so no answer owed on this connection can come. Close now — its handler sees the body aborted
    // and its in-flight slot is freed — rather than hold the socket until the request timeout.
    if (err.code !== 'ERR_HTTP_REQUEST_TIMEOUT' && pending(last) && last.req?.complete === false) {
      s.destroy();
      return;
    }
    if (pending(last)) last.once('finish', () => writeRefusal(s, r));
    else writeRefusal(s, r);
  }

  /** Begins the drain (idempotent); Fastify's close and node's `server.close()` both call it. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const s of this.#sockets) {
      const last = s[kLast];
      if (last !== undefined) closeAfter(last);
    }
    this.#sweepIdle();
    this.#sweep = setInterval(() => this.#sweepIdle(), Math.max(10, Math.floor(this.#idleMs / 4)));
    this.#sweep.unref();
  }

  /** A request read while draining: it carries the close; the one before it no longer needs to. */
  #lastOnDrain(socket: Conn, res: Res): void {
    const prev = socket[kLast];
    if (prev?.[kFlipped] === true && !prev.headersSent) {
      prev.shouldKeepAlive = true;
      prev[kFlipped] = false;
    }
    closeAfter(res);
  }

  /** Closes the connections that are between requests and have been silent for `drainIdleMs`. */
  #sweepIdle(): void {
    const now = performance.now();
    for (const s of this.#sockets) {
      if (pending(s[kLast])) {
        s[kQuiet] = undefined;
        continue;
      }
      const q = s[kQuiet];
      const bytes = s.bytesRead;
      // Bytes of a next request arriving (even a partial one) restart the quiet period.
      if (q === undefined || q.bytes !== bytes) s[kQuiet] = { bytes, since: now };
      else if (now - q.since >= this.#idleMs) s.destroy();
    }
  }

  #stopSweep(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}

/** Writes the refusal in the envelope with a fresh request id, then closes once it is flushed. */
function writeRefusal(s: Conn, r: Refusal): void {
  if (s.destroyed) return;
  if (!s.writable) {
    s.destroy();
    return;
  }
  const id = ulid();
  const body = envelopeText(new ApiError(r.code, r.message), id);
  s.end(
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
  s.destroySoon();
}
