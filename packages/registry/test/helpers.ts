// Test helpers: start a real registry in-process on ephemeral loopback ports.
import { createLogger } from '@ron/kernel';
import {
  generateKeyFile,
  loadRegistryConfig,
  signBytes,
  signedBytes,
  startRegistry,
  type KeyFile,
  type LogStore,
  type RunningRegistry,
  type Signature,
} from '../src/index.js';

export interface TestRegistry extends RunningRegistry {
  keys: KeyFile[];
  /** POST /registry/commit with the given body. */
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Signs and commits payload at head+1 with the first `n` keys (default: threshold). */
  commit(payload: string, n?: number): Promise<Response>;
  sign(payload: string, version: number, key: KeyFile, registry?: string): Signature;
}

export async function startTestRegistry(
  env: Record<string, string> = {},
  o: { keys?: number; threshold?: number; store?: LogStore } = {},
): Promise<TestRegistry> {
  const keys = Array.from({ length: o.keys ?? 3 }, () => generateKeyFile());
  const { config } = loadRegistryConfig({
    env: {
      REGISTRY_ADDR: '127.0.0.1:0',
      METRICS_ADDR: '127.0.0.1:0',
      AMNESIA: '1',
      SIGNER_ALLOWLIST: keys.map((k) => k.signer_id).join(','),
      SIG_THRESHOLD: String(o.threshold ?? 2),
      ...env,
    },
  });
  const r = await startRegistry({
    config,
    logger: createLogger('svc-registry', 'silent'),
    defaultCollectors: false,
    ...(o.store !== undefined ? { store: o.store } : {}),
  });
  const sign = (payload: string, version: number, key: KeyFile, registry = config.registry_id): Signature =>
    signBytes(key, signedBytes({ registry, op: 'commit', payload_b3: payload, version }));
  const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${r.apiUrl}/registry/commit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return {
    ...r,
    close: (g?: number) => r.close(g),
    keys,
    post,
    sign,
    commit(payload, n = config['governance.threshold']) {
      const v = r.registry.head.version + 1;
      return post({ payload_b3: payload, signatures: keys.slice(0, n).map((k) => sign(payload, v, k)) });
    },
  };
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; request_id: string; ts: string; hint?: string };
}
