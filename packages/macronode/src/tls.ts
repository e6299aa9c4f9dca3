import { StartupError } from '@ron/kernel';
import type { FastifyServerFactory } from 'fastify';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { MacronodeConfig } from './config.js';

export type TlsListener = 'admin' | 'gateway';

/** PEM file paths of one listener (empty strings = unset). */
export interface TlsFiles {
  cert: string;
  key: string;
  client_ca: string;
}

export function tlsFiles(c: MacronodeConfig, l: TlsListener): TlsFiles {
  return { cert: c[`tls.${l}.cert`], key: c[`tls.${l}.key`], client_ca: c[`tls.${l}.client_ca`] };
}

/** Reads a listener's PEM files; undefined when TLS is off. Throws naming the key and file. */
export function readTlsFiles(f: TlsFiles, l: TlsListener): SecureContextOptions | undefined {
  if (f.cert === '') return undefined;
  const read = (key: keyof TlsFiles): Buffer => {
    try {
      return readFileSync(f[key]);
    } catch (err) {
      throw new Error(
        `tls.${l}.${key} ${f[key]} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  return { cert: read('cert'), key: read('key'), ...(f.client_ca !== '' ? { ca: read('client_ca') } : {}) };
}

export function readTls(c: MacronodeConfig, l: TlsListener): SecureContextOptions | undefined {
  return readTlsFiles(tlsFiles(c, l), l);
}

/** An https server factory for Fastify, or undefined for plain HTTP. mTLS when a client CA is set. */
export function httpsFactoryFrom(opts: SecureContextOptions | undefined): FastifyServerFactory | undefined {
  if (opts === undefined) return undefined;
  const mtls = opts.ca !== undefined;
  return (handler) => createServer({ ...opts, requestCert: mtls, rejectUnauthorized: mtls }, handler);
}

export function httpsFactory(c: MacronodeConfig, l: TlsListener): FastifyServerFactory | undefined {
  try {
    return httpsFactoryFrom(readTls(c, l));
  } catch (err) {
    throw new StartupError((err as Error).message, 78);
  }
}

/** Swaps certificates on a running listener: new handshakes use them, open connections stay. */
export function swapTls(server: unknown, opts: SecureContextOptions): void {
  (server as Server).setSecureContext(opts);
}
