import { StartupError } from '@ron/kernel';
import type { FastifyServerFactory } from 'fastify';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { MacronodeConfig } from './config.js';

export type TlsListener = 'admin' | 'gateway';

/** Reads a listener's PEM files; undefined when TLS is off. Throws naming the key and file. */
export function readTls(c: MacronodeConfig, l: TlsListener): SecureContextOptions | undefined {
  const cert = c[`tls.${l}.cert`];
  if (cert === '') return undefined;
  const read = (key: 'cert' | 'key' | 'client_ca'): Buffer => {
    const path = c[`tls.${l}.${key}`];
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`tls.${l}.${key} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const ca = c[`tls.${l}.client_ca`];
  return { cert: read('cert'), key: read('key'), ...(ca !== '' ? { ca: read('client_ca') } : {}) };
}

/** An https server factory for Fastify, or undefined for plain HTTP. mTLS when a client CA is set. */
export function httpsFactory(c: MacronodeConfig, l: TlsListener): FastifyServerFactory | undefined {
  let opts: SecureContextOptions | undefined;
  try {
    opts = readTls(c, l);
  } catch (err) {
    throw new StartupError((err as Error).message, 78);
  }
  if (opts === undefined) return undefined;
  const mtls = opts.ca !== undefined;
  const o = opts;
  return (handler) => createServer({ ...o, requestCert: mtls, rejectUnauthorized: mtls }, handler);
}

/** Swaps certificates on a running listener: new handshakes use them, open connections stay. */
export function swapTls(server: unknown, opts: SecureContextOptions): void {
  (server as Server).setSecureContext(opts);
}
