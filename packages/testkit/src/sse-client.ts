import { request } from 'node:http';

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

export interface SseClient {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Events received so far (in order). */
  readonly events: SseEvent[];
  /** Raw `retry:` value if sent. */
  retry: number | undefined;
  /** Resolves with the first event (from now or already received at index ≥ from) matching pred. */
  next(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** Stops reading from the socket (simulates a slow consumer) without closing it. */
  pause(): void;
  close(): void;
}

/** A minimal SSE client over node:http, with pause() to play a slow consumer. Body of non-200 is in `body`. */
export function sseConnect(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseClient & { body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let buf = '';
      let body = '';
      let endResolve!: () => void;
      const ended = new Promise<void>((r) => (endResolve = r));
      const client = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        retry: undefined as number | undefined,
        body,
        ended,
        next(pred: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
          return new Promise<SseEvent>((res2, rej2) => {
            const check = (): boolean => {
              const e = events.find(pred);
              if (e) {
                waiters.delete(check);
                clearTimeout(t);
                res2(e);
                return true;
              }
              return false;
            };
            const t = setTimeout(() => {
              waiters.delete(check);
              rej2(new Error(`sse: no matching event within ${timeoutMs} ms (have ${events.length})`));
            }, timeoutMs);
            if (!check()) waiters.add(check);
          });
        },
        pause() {
          res.pause();
          res.socket.pause();
        },
        close() {
          req.destroy();
        },
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (client.status !== 200) {
          body += chunk;
          client.body = body;
          return;
        }
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let id: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
            else if (line.startsWith('retry: ')) client.retry = Number(line.slice(7));
          }
          if (data.length > 0) events.push({ event, id, data: data.join('\n') });
        }
        for (const w of [...waiters]) w();
      });
      res.on('end', () => endResolve());
      res.on('close', () => endResolve());
      resolve(client);
    });
    req.on('error', reject);
    req.end();
  });
}
