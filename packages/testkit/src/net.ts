import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp dir and its remover. */
export function tempDir(prefix = 'ron-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A port that was free a moment ago (for programs that cannot bind port 0, e.g. several listeners). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

export function parseRawResponse(raw: string): RawResponse {
  const i = raw.indexOf('\r\n\r\n');
  const head = i >= 0 ? raw.slice(0, i) : raw;
  const body = i >= 0 ? raw.slice(i + 4) : '';
  const [statusLine = '', ...hl] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of hl) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body, raw };
}

/**
 * Writes raw bytes to host:port and collects the answer until the server closes or `timeoutMs`
 * passes — for requests fetch() will not send (lying lengths, chunked PUTs, stacked encodings).
 * `keepOpen` leaves the socket open after the first response headers arrive (for held requests).
 */
export function rawRequest(
  port: number,
  data: string | Buffer,
  opts: { host?: string; timeoutMs?: number; untilFirstResponse?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, opts.host ?? '127.0.0.1');
    let buf = '';
    const finish = (): void => {
      clearTimeout(t);
      sock.destroy();
      resolve(parseRawResponse(buf));
    };
    const t = setTimeout(finish, opts.timeoutMs ?? 5000);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (opts.untilFirstResponse) {
        const r = parseRawResponse(buf);
        const len = Number(r.headers['content-length'] ?? NaN);
        if (buf.includes('\r\n\r\n') && Number.isFinite(len) && Buffer.byteLength(r.body, 'latin1') >= len)
          finish();
      }
    });
    sock.on('end', finish);
    sock.on('error', (e) => {
      clearTimeout(t);
      if (buf) resolve(parseRawResponse(buf));
      else reject(e);
    });
    sock.write(data);
  });
}

/** Opens a socket and sends `data` without completing the request (for held/slow requests). */
export function openSocket(port: number, data: string | Buffer, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host, () => {
      sock.write(data);
      resolve(sock);
    });
    sock.on('error', reject);
  });
}

/** Polls `fn` until it returns truthy or the deadline passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Splits raw bytes into whole HTTP/1.1 responses (Content-Length or chunked bodies; 204/304 and
 * answers to HEAD have none). Returns the responses and whether bytes of an incomplete one remain.
 */
export function parseRawResponses(
  raw: string,
  heads: boolean[] = [],
): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const head = parseRawResponse(raw.slice(at, end + 4));
    let bodyEnd: number;
    if (heads[responses.length] === true || head.status === 204 || head.status === 304) bodyEnd = end + 4;
    else if (head.headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      let p = end + 4;
      let body = '';
      let done = false;
      for (;;) {
        const le = raw.indexOf('\r\n', p);
        if (le === -1) break;
        const size = parseInt(raw.slice(p, le), 16);
        if (raw.length < le + 2 + size + 2) break;
        body += raw.slice(le + 2, le + 2 + size);
        p = le + 2 + size + 2;
        if (size === 0) {
          done = true;
          break;
        }
      }
      if (!done) break;
      bodyEnd = p;
      head.body = body;
    } else bodyEnd = end + 4 + Number(head.headers['content-length'] ?? 0);
    if (raw.length < bodyEnd) break;
    if (head.headers['transfer-encoding'] === undefined) head.body = raw.slice(end + 4, bodyEnd);
    head.raw = raw.slice(at, bodyEnd);
    responses.push(head);
    at = bodyEnd;
  }
  return { responses, rest: raw.slice(at) };
}

/**
 * Writes `data` (e.g. several pipelined requests) in one write and collects the whole responses
 * until `count` arrived, the server closed the connection, or `timeoutMs` passed. `closed` says
 * whether the server closed the connection (within `timeoutMs`, once `count` answers arrived, when
 * `waitClose` is set).
 */
export function rawExchange(
  port: number,
  data: string | Buffer,
  opts: { count: number; host?: string; timeoutMs?: number; waitClose?: boolean },
): Promise<{ responses: RawResponse[]; closed: boolean; rest: string }> {
  return new Promise((resolve) => {
    const sock: Socket = connect(port, opts.host ?? '127.0.0.1');
    let buf = '';
    let closed = false;
    const finish = (): void => {
      clearTimeout(t);
      sock.destroy();
      const { responses, rest } = parseRawResponses(buf);
      resolve({ responses, closed, rest });
    };
    const t = setTimeout(finish, opts.timeoutMs ?? 10_000);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!opts.waitClose && parseRawResponses(buf).responses.length >= opts.count) finish();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.write(data);
  });
}
