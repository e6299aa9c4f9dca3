// Shared test helpers: spawn the real svc-mailbox bin and talk to it.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { spawnProgram, type Program } from '@ron/testkit';

export const BIN = fileURLToPath(new URL('../../bin/svc-mailbox.js', import.meta.url));

/** Starts svc-mailbox on an ephemeral port with its store at `path` (in memory when omitted). */
export function startMailbox(path?: string, env: Record<string, string | undefined> = {}): Promise<Program> {
  return spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', ...(path === undefined ? ['--amnesia'] : ['--storage-path', path])],
    env: { LOG_LEVEL: 'info', ...env },
  });
}

export interface Msg {
  id: string;
  receipt: string;
  body: string;
  attempts: number;
  enqueued_at: string;
}

export async function enqueue(
  url: string,
  topic: string,
  body: string | Buffer,
  key?: string,
): Promise<{ status: number; id: string }> {
  const r = await fetch(`${url}/v1/mailbox/${topic}`, {
    method: 'POST',
    body,
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });
  const j = (await r.json()) as { id: string };
  return { status: r.status, id: j.id };
}

export async function receive(url: string, topic: string, q = ''): Promise<Msg[]> {
  const r = await fetch(`${url}/v1/mailbox/${topic}/receive${q === '' ? '' : `?${q}`}`, { method: 'POST' });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return (JSON.parse(text) as { messages: Msg[] }).messages;
}

export async function settle(
  url: string,
  topic: string,
  verb: 'ack' | 'nack' | 'extend',
  body: object,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${url}/v1/mailbox/${topic}/${verb}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

export const text = (m: Msg): string => Buffer.from(m.body, 'base64').toString();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
