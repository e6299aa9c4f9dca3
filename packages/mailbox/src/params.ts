import type { FastifyRequest } from 'fastify';
import { ApiError } from '@ron/kernel';
import { isReceipt } from './receipt.js';

// Request parsing for the mailbox routes: every bad input is a 400 naming the rule, never a 500.

const TOPIC = /^[a-z0-9][a-z0-9._-]{0,62}$/;
// Idempotency keys: 1–256 visible ASCII characters.
const IDEM_KEY = /^[\x21-\x7e]{1,256}$/;
const DURATION = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const MAX_RECEIVE = 100;
export const MAX_VISIBILITY_MS = 12 * 3_600_000;
export const MAX_WAIT_MS = 20_000;
export const MAX_RECEIPTS = 100;

export function checkTopic(topic: string): string {
  if (!TOPIC.test(topic))
    throw new ApiError('BadRequest', `invalid topic '${topic.slice(0, 80)}'`, {
      hint: 'topics match ^[a-z0-9][a-z0-9._-]{0,62}$',
    });
  return topic;
}

export function topicParam(req: FastifyRequest): string {
  return checkTopic((req.params as { topic: string }).topic);
}

export function idempotencyKey(req: FastifyRequest): string | undefined {
  const k = req.headers['idempotency-key'];
  if (k === undefined) return undefined;
  if (typeof k !== 'string' || !IDEM_KEY.test(k))
    throw new ApiError('BadRequest', 'Idempotency-Key must be 1–256 visible ASCII characters');
  return k;
}

/**
 * A duration in ms from "30s", "500ms", "5m", "1h" or a bare number of seconds (SQS style), within
 * [min, max]; `name` is the parameter named in the error.
 */
export function duration(name: string, v: unknown, min: number, max: number): number {
  const text = typeof v === 'number' ? String(v) : v;
  const m = typeof text === 'string' ? DURATION.exec(text.trim()) : null;
  const ms = m === null ? NaN : Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
  if (!Number.isFinite(ms) || ms < min || ms > max)
    throw new ApiError(
      'BadRequest',
      `${name} must be a duration from ${show(min)} to ${show(max)} (e.g. "30s", "500ms"; a bare number is seconds)`,
    );
  return ms;
}

function show(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function intIn(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ApiError('BadRequest', `${name} must be an integer ${min}–${max}`);
  return n;
}

/** The query as single strings; unknown or repeated parameters are a 400. */
export function query<K extends string>(
  req: FastifyRequest,
  names: readonly K[],
): Partial<Record<K, string>> {
  const q = req.query as Record<string, unknown>;
  const out: Partial<Record<K, string>> = {};
  for (const [k, v] of Object.entries(q)) {
    if (!(names as readonly string[]).includes(k))
      throw new ApiError('BadRequest', `unknown query parameter '${k.slice(0, 40)}'`, {
        hint: `known: ${names.join(', ')}`,
      });
    if (typeof v !== 'string') throw new ApiError('BadRequest', `query parameter '${k}' must be given once`);
    out[k as K] = v;
  }
  return out;
}

/** A JSON object body with only the allowed fields (SPEC §1.2: unknown fields are a 400). */
export function jsonBody(
  req: FastifyRequest,
  allowed: readonly string[],
  required: boolean,
): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) {
    if (required)
      throw new ApiError('BadRequest', 'a JSON body is required', { hint: `fields: ${allowed.join(', ')}` });
    return {};
  }
  const ct = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(ct))
    throw new ApiError('UnsupportedMediaType', `Content-Type '${ct.slice(0, 60)}' is not accepted here`, {
      hint: 'send application/json',
    });
  if (typeof b !== 'object' || Array.isArray(b))
    throw new ApiError('BadRequest', 'the body must be a JSON object');
  const o = b as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new ApiError('BadRequest', `unknown field '${k.slice(0, 40)}'`, {
        hint: `fields: ${allowed.join(', ')}`,
      });
  }
  return o;
}

/** `receipts`: 1–100 well-formed receipt strings. */
export function receipts(o: Record<string, unknown>): string[] {
  const r = o.receipts;
  if (!Array.isArray(r) || r.length === 0 || r.length > MAX_RECEIPTS)
    throw new ApiError('BadRequest', `receipts must be an array of 1–${MAX_RECEIPTS} receipts`);
  for (const x of r) {
    if (!isReceipt(x))
      throw new ApiError('BadRequest', `malformed receipt ${JSON.stringify(x)?.slice(0, 80) ?? String(x)}`, {
        hint: 'pass the receipt strings from a receive answer unchanged',
      });
  }
  return r as string[];
}
