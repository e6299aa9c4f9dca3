import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';

export type ListenTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Parses "127.0.0.1:9444", "[::1]:80", ":8080", "unix:/run/x.sock" or "/run/x.sock". */
export function parseAddr(addr: string): ListenTarget | undefined {
  if (addr.startsWith('unix:')) return { kind: 'unix', path: addr.slice(5) };
  if (addr.startsWith('/')) return { kind: 'unix', path: addr };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { kind: 'tcp', host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function isLoopbackHost(host: string): boolean {
  return (
    host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host)
  );
}

/** Rule text for config validation of an address field. */
export const ADDR_RULE = 'must be HOST:PORT (e.g. 127.0.0.1:9444) or unix:/path';

/** Listens and returns the public URL ("http://127.0.0.1:41234" or "unix:/path"). */
export async function listen(app: FastifyInstance, target: ListenTarget, scheme = 'http'): Promise<string> {
  if (target.kind === 'unix') {
    await app.listen({ path: target.path });
    return `unix:${target.path}`;
  }
  await app.listen({ host: target.host, port: target.port });
  const a = app.server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}
