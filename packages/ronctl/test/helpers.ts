// Test helpers: run the real ronctl bin, start the real svc-registry bin on ephemeral ports.
import { fileURLToPath } from 'node:url';
import { runProgram, spawnProgram, type Program } from '@ron/testkit';

export const RONCTL = fileURLToPath(new URL('../../bin/ronctl.js', import.meta.url));
export const REGISTRY_BIN = fileURLToPath(new URL('../../../registry/bin/svc-registry.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ronctl args…` with the given env (RON_REGISTRY_URL etc.). */
export function ronctl(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
  timeoutMs = 30_000,
): Promise<Run> {
  return runProgram(RONCTL, args, {
    env: { NO_COLOR: '1', ...env },
    timeoutMs,
    ...(cwd !== undefined ? { cwd } : {}),
  });
}

/** Starts svc-registry (amnesia unless args say otherwise) with the signers and threshold given. */
export function startRegistryBin(
  signers: string[],
  threshold: number,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Program> {
  const args = [
    '--bind',
    '127.0.0.1:0',
    '--admin-bind',
    '127.0.0.1:0',
    '--allow-signer',
    signers.join(','),
    '--sig-threshold',
    String(threshold),
    ...extra,
  ];
  if (!extra.includes('--db')) args.push('--amnesia');
  return spawnProgram({ bin: REGISTRY_BIN, args, env: { LOG_LEVEL: 'info', ...env } });
}

export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}
