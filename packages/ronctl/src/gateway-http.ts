// Requests through the macronode gateway (`--gateway URL` / RON_GATEWAY_URL) for the data-plane
// commands (mailbox, index); non-2xx envelopes become CliErrors with the plane's hint.
import type { Command } from 'commander';
import { CliError } from './context.js';

interface Envelope {
  error?: { code?: string; message?: string; hint?: string };
}

/** The gateway URL: the command's (or a parent's) --gateway → RON_GATEWAY_URL → the default. */
export function gatewayOf(cmd: Command): string {
  const g =
    cmd.optsWithGlobals<{ gateway?: string }>().gateway ??
    process.env.RON_GATEWAY_URL ??
    'http://127.0.0.1:8090';
  return g.replace(/\/+$/, '');
}

export interface GatewayAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Sends a request; resolves the parsed JSON of a 2xx/3xx answer, throws a CliError otherwise. */
export async function gatewayCall<T>(
  method: string,
  url: string,
  opts: { json?: unknown; raw?: Buffer; headers?: Record<string, string> } = {},
): Promise<GatewayAnswer<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Buffer | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    headers['content-type'] = 'application/octet-stream';
    body = opts.raw;
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(
      `cannot reach ${new URL(url).origin}: ${cause}`,
      'is macronode running? set --gateway URL or RON_GATEWAY_URL',
    );
  }
  const text = await res.text();
  let parsed: unknown = {};
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new CliError(`${method} ${url} answered ${res.status} with a non-JSON body`);
  }
  if (res.status >= 400) {
    const e = (parsed as Envelope).error;
    throw new CliError(
      `${e?.code ?? res.status}: ${e?.message ?? `${method} ${url} failed with ${res.status}`}`,
      e?.hint,
    );
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}
