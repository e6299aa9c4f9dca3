import { fileURLToPath } from 'node:url';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';

export const BIN = fileURLToPath(new URL('../../bin/macronode.js', import.meta.url));

export interface TestNode {
  prog: Program;
  admin: string;
  gateway: string;
  dataDir: string;
  /** SIGTERM by PID, wait for exit, remove the temp dir. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a real macronode on ephemeral ports with a fresh data dir. */
export async function startNode(
  opts: {
    env?: Record<string, string | undefined>;
    args?: string[];
    httpAddr?: string;
    dataDir?: string;
    timeoutMs?: number;
  } = {},
): Promise<TestNode> {
  // A caller-supplied data dir is the caller's to remove.
  const dir =
    opts.dataDir !== undefined ? { path: opts.dataDir, remove: () => undefined } : tempDir('macronode-test-');
  const prog = await spawnProgram({
    bin: BIN,
    args: [
      'run',
      '--http-addr',
      opts.httpAddr ?? '127.0.0.1:0',
      '--gateway-addr',
      '127.0.0.1:0',
      '--data-dir',
      dir.path,
      ...(opts.args ?? []),
    ],
    env: { RON_CONFIG: undefined, RON_ADMIN_TOKEN: undefined, ...opts.env },
    timeoutMs: opts.timeoutMs ?? 20_000,
  }).catch((err: unknown) => {
    dir.remove();
    throw err;
  });
  return {
    prog,
    admin: prog.url,
    gateway: String(prog.ready.gateway_url),
    dataDir: dir.path,
    async stop() {
      const r = await prog.stop('SIGTERM');
      dir.remove();
      return r;
    },
  };
}

export interface PlaneStatus {
  state: string;
  pid: number | null;
  restarts: number;
  last_error: string | null;
}

export async function planeStatus(admin: string, plane: string): Promise<PlaneStatus> {
  const r = await fetch(`${admin}/api/v1/status`);
  const body = (await r.json()) as { services: Record<string, PlaneStatus> };
  return body.services[plane]!;
}

export async function metricValue(admin: string, series: string): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}
