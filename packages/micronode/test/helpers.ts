// Shared test helpers: spawn the real micronode bin, read metrics, build in-process apps.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig } from '@ron/kernel';
import { spawnProgram, type Program } from '@ron/testkit';
import { createMicronode, type Micronode } from '../src/app.js';
import { schema, validate } from '../src/config.js';

export const BIN = fileURLToPath(new URL('../../bin/micronode.js', import.meta.url));

/** Starts micronode on an ephemeral port; mem engine unless the env says otherwise. */
export function startNode(
  env: Record<string, string | undefined> = {},
  args: string[] = [],
  cwd?: string,
): Promise<Program> {
  return spawnProgram({
    bin: BIN,
    args: ['--bind', '127.0.0.1:0', ...args],
    env: { MICRONODE_STORAGE_ENGINE: 'mem', ...env },
    ...(cwd !== undefined ? { cwd } : {}),
  });
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Parses Prometheus text into `name{labels}` → value, labels as a plain object. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[lm[1]!] = lm[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Value of one series (labels must match exactly the given subset); undefined when absent. */
export function sample(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hit = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value;
}

export async function scrape(url: string): Promise<Sample[]> {
  const r = await fetch(`${url}/metrics`);
  assert.equal(r.status, 200);
  return parseMetrics(await r.text());
}

export async function rejections(url: string, reason: string): Promise<number> {
  const v = sample(await scrape(url), 'micronode_rejections_total', { reason });
  assert.notEqual(v, undefined, `rejection series for ${reason} is prewarmed`);
  return v!;
}

export interface Envelope {
  error: { code: string; message: string; retryable: boolean; ts: string; request_id: string; hint?: string };
}

/** Asserts a response body is the SPEC §1.2 envelope with this code and request id. */
export function assertEnvelope(body: string, code: string, requestId?: string): Envelope {
  const env = JSON.parse(body) as Envelope;
  assert.equal(env.error.code, code, body);
  assert.equal(typeof env.error.message, 'string');
  assert.equal(typeof env.error.retryable, 'boolean');
  assert.match(env.error.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  if (requestId !== undefined) assert.equal(env.error.request_id, requestId);
  return env;
}

/** An in-process micronode (not listening) with config resolved from the given env. */
export function inProcess(env: Record<string, string> = {}): Micronode {
  const { config } = loadConfig({ schema, env: { MICRONODE_STORAGE_ENGINE: 'mem', ...env }, validate });
  return createMicronode({
    config,
    logger: createLogger('micronode-test', 'silent'),
    defaultCollectors: false,
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
