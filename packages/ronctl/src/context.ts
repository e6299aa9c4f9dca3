// Shared CLI plumbing: global options, targets, output, errors that say what to do next.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseStrictJson, type KeyFile } from '@ron/registry/protocol';

/** A failure the user can act on: printed as `error: …` plus `hint: …`, exit code `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly code = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface GlobalOptions {
  registry?: string;
  admin?: string;
  gateway?: string;
  registryId?: string;
  token?: string;
  json?: boolean;
}

export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:9444';
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8080';
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8090';

export interface Ctx {
  registryUrl: string;
  adminUrl: string;
  gatewayUrl: string;
  registryId: string;
  token: string | undefined;
  json: boolean;
  out(line: string): void;
  err(line: string): void;
}

/**
 * A target URL from its flag or environment variable, checked before anything is sent: a typo is
 * named with where it came from and the form expected, not a bare "Invalid URL".
 */
export function targetUrl(value: string, source: string, example = DEFAULT_REGISTRY_URL): string {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    throw new CliError(
      `${source} ${JSON.stringify(value)} is not a URL; expected http(s)://host:port`,
      `e.g. ${source}${source.startsWith('--') ? ' ' : '='}${example}`,
      64,
    );
  }
  return value.replace(/\/+$/, '');
}

/** Resolves one target: flag → environment → default, naming where a bad value came from. */
function resolveTarget(
  flag: string | undefined,
  flagName: string,
  envName: string,
  fallback: string,
): string {
  if (flag !== undefined) return targetUrl(flag, flagName, fallback);
  const env = process.env[envName];
  if (env !== undefined && env !== '') return targetUrl(env, envName, fallback);
  return fallback;
}

/**
 * The program options merged from the program down to the command, the nearest winning: they may be
 * given before the command (`ronctl --json registry head`) or after it (`ronctl registry head --json`).
 */
function globalsOf(cmd: Command): GlobalOptions {
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) chain.unshift(c);
  return Object.assign({}, ...chain.map((c) => c.opts<GlobalOptions>())) as GlobalOptions;
}

/** Resolves targets: flag → environment → default. A URL is checked when the command first uses it. */
export function ctxOf(cmd: Command): Ctx {
  const g = globalsOf(cmd);
  let registryUrl: string | undefined;
  let adminUrl: string | undefined;
  let gatewayUrl: string | undefined;
  return {
    get registryUrl(): string {
      return (registryUrl ??= resolveTarget(
        g.registry,
        '--registry',
        'RON_REGISTRY_URL',
        DEFAULT_REGISTRY_URL,
      ));
    },
    get adminUrl(): string {
      return (adminUrl ??= resolveTarget(g.admin, '--admin', 'RON_ADMIN_URL', DEFAULT_ADMIN_URL));
    },
    get gatewayUrl(): string {
      return (gatewayUrl ??= resolveTarget(g.gateway, '--gateway', 'RON_GATEWAY_URL', DEFAULT_GATEWAY_URL));
    },
    registryId: g.registryId ?? process.env.RON_REGISTRY_ID ?? 'default',
    token: g.token ?? process.env.RON_REGISTRY_TOKEN,
    json: g.json === true,
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  };
}

/** Reads and parses a JSON file strictly (duplicate keys are errors). */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'check the path',
    );
  }
  try {
    return parseStrictJson(text);
  } catch (err) {
    throw new CliError(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads a signer key file written by `ronctl keygen`. */
export function readKey(path: string): KeyFile {
  const k = readJsonFile(path, 'key file') as Partial<KeyFile> | null;
  if (
    k === null ||
    typeof k !== 'object' ||
    k.alg !== 'ed25519' ||
    typeof k.seed !== 'string' ||
    typeof k.signer_id !== 'string'
  ) {
    throw new CliError(`${path} is not a signer key file`, 'create one with: ronctl keygen --out FILE');
  }
  return { alg: 'ed25519', signer_id: k.signer_id, seed: k.seed };
}

/** Collects a repeatable option. */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** Wraps an async action: prints CliErrors as `error:`/`hint:` and sets a non-zero exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof CliError) {
        process.stderr.write(`error: ${err.message}\n`);
        if (err.hint !== undefined) process.stderr.write(`hint: ${err.hint}\n`);
        process.exitCode = err.code;
        return;
      }
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}
