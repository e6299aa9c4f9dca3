// ronctl registry watch [--from N]: tails the stream; reconnects with Last-Event-ID; never prints a duplicate.
import type { Command } from 'commander';
import type { Head } from '@ron/registry/protocol';
import { CliError, ctxOf, type Ctx, action } from '../context.js';
import { callJson } from '../http.js';

interface Frame {
  event: string;
  id: string | undefined;
  data: string;
}

/** Splits an SSE byte stream into frames (handles CRLF and multi-line data). */
export async function* sseFrames(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<Frame | { retry: number }> {
  const dec = new TextDecoder();
  let buf = '';
  let event = 'message';
  let id: string | undefined;
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield { event, id, data: data.join('\n') };
        event = 'message';
        id = undefined;
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) yield { retry: Number(value) };
    }
  }
}

interface WatchOptions {
  from?: string;
  count?: string;
  maxRetries?: string;
}

const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '?');

function human(d: Record<string, unknown>): string {
  const parts = [`v${str(d.version)}`, str(d.op)];
  if (typeof d.descriptor_id === 'string') parts.push(d.descriptor_id);
  parts.push(str(d.payload_b3), str(d.committed_at));
  if (Array.isArray(d.signers)) parts.push(`signers=${d.signers.length}`);
  return parts.join('  ');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Follows the stream from `last` (exclusive): 1. connect with Last-Event-ID = last; 2. print each
 * `commit` with a version > last exactly once; 3. on end/error/`dropped`, back off and reconnect;
 * 4. `reset` (history no longer retained) is fatal.
 */
export async function watch(ctx: Ctx, o: WatchOptions): Promise<void> {
  let last =
    o.from !== undefined
      ? Number(o.from)
      : (await callJson<Head>(ctx, 'GET', `${ctx.registryUrl}/registry/head`)).version;
  if (!Number.isSafeInteger(last) || last < 0)
    throw new CliError(`--from ${o.from} is not a version`, 'use a non-negative integer');
  const limit = o.count !== undefined ? Number(o.count) : Infinity;
  const maxRetries = o.maxRetries !== undefined ? Number(o.maxRetries) : Infinity;
  let printed = 0;
  let retries = 0;
  let retryMs = 2000;
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (printed < limit && !ac.signal.aborted) {
      try {
        const res = await fetch(`${ctx.registryUrl}/registry/stream`, {
          headers: { accept: 'text/event-stream', 'last-event-id': String(last) },
          signal: ac.signal,
        });
        if (res.status !== 200 || res.body === null) {
          const text = await res.text();
          if (res.status < 500)
            throw new CliError(`stream refused with ${res.status}: ${text.slice(0, 200)}`);
          throw new Error(`stream answered ${res.status}`);
        }
        retries = 0;
        for await (const f of sseFrames(res.body)) {
          if ('retry' in f) {
            retryMs = f.retry;
            continue;
          }
          if (f.event === 'commit') {
            const d = JSON.parse(f.data) as Record<string, unknown>;
            const v = Number(f.id ?? d.version);
            if (!(v > last)) continue; // never a duplicate
            last = v;
            ctx.out(ctx.json ? f.data : human(d));
            if (++printed >= limit) break;
          } else if (f.event === 'reset') {
            throw new CliError(
              `the registry no longer retains history after version ${last}: ${f.data}`,
              'start again with --from at or above the floor (ronctl registry head)',
            );
          } else if (f.event === 'dropped') {
            if (!ctx.json) ctx.err(`(fell behind the stream at v${last}; resuming)`);
            break;
          }
        }
        if (printed >= limit) break;
      } catch (err) {
        if (err instanceof CliError) throw err;
        if (ac.signal.aborted) break;
        if (++retries > maxRetries)
          throw new CliError(
            `lost the stream at v${last} and could not reconnect: ${(err as Error).message}`,
            'check the registry is up, then: ronctl registry watch --from ' + String(last),
          );
      }
      if (ac.signal.aborted || printed >= limit) break;
      // Back off: first retry fast, then the server's retry hint.
      await sleep(retries <= 1 ? 200 : Math.min(retryMs, 5000));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    ac.abort();
  }
}

export function registryWatch(registry: Command): void {
  registry
    .command('watch')
    .description('tail the change stream (reconnects with Last-Event-ID; no gaps, no duplicates)')
    .option('--from <n>', 'print entries after version N (default: from the current head)')
    .option('--count <n>', 'exit after printing N entries')
    .option('--max-retries <n>', 'give up after N failed reconnects in a row (default: never)')
    .action(action(async (o: WatchOptions, cmd: Command) => watch(ctxOf(cmd), o)));
}
