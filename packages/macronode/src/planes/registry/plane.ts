import { field, type LogLevel } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { childSpecFields, definePlane, type DoctorCheck } from '../plane.js';
import { sqliteStoreCheck } from '../store-check.js';
import { ensureSignerKey, signerKeyPlace } from './signer-key.js';

/** The registry id the node's registry plane signs under (svc-registry's default `registry_id`). */
export const NODE_REGISTRY_ID = 'default';

/**
 * registry: svc-registry (SPEC §2) started through its public entry point, its store under
 * data_dir, writes signature-gated by the node's local signer key (threshold `registry.sig_threshold`).
 */
export const registryPlane = definePlane({
  name: 'registry',
  config: {
    ...childSpecFields('registry'),
    sig_threshold: field.int(1, { min: 1, doc: 'signatures required for a registry write' }),
    db: field.string<string>('', {
      doc: 'registry store: empty = <data_dir>/registry/registry.db (SQLite); postgres://user:pw@host:port/db = a replica on a shared PostgreSQL',
    }),
    signer_key: field.string<string>('', {
      doc: 'signer key file; empty = <data_dir>/keys/signer.key (created on first run)',
    }),
  },
  prefixes: ['/registry', '/v1/registry'],
  tryIt:
    'curl {gateway}/registry/head ; writes need a signature from {signer_key}: ronctl registry publish --key {signer_key} --file <descriptor.json>',
  store: {
    file: 'registry/registry.db',
    watermark: { sql: 'SELECT max(version) FROM registry_log', what: 'head version' },
  },
  options(own, host) {
    const key = ensureSignerKey(signerKeyPlace(own.signer_key, host));
    return {
      db: storeLocation(own.db, host.data_dir),
      amnesia: host.amnesia,
      signer_id: key.signerId,
      signer_key: key.path,
      threshold: own.sig_threshold,
      shutdown_grace: host.shutdown_grace,
    };
  },
  doctor(own, host) {
    if (isPostgres(own.db)) return postgresCheck(own.db);
    return sqliteStoreCheck('registry', storeLocation(own.db, host.data_dir)).then((k) => [k]);
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only (keeps the host and other planes lean).
    const { redactPgUrl, registryConfigFrom, startRegistry } = await import('@ron/registry');
    const amnesia = o.amnesia === true;
    const postgres = isPostgres(String(o.db));
    if (!amnesia && !postgres) mkdirSync(dirname(String(o.db)), { recursive: true });
    const config = registryConfigFrom({
      'bind.api': '127.0.0.1:0',
      'bind.admin': '127.0.0.1:0',
      db: String(o.db),
      amnesia,
      'governance.threshold': Number(o.threshold),
      'governance.signers': [String(o.signer_id)],
      shutdown_grace: Number(o.shutdown_grace),
      log_level: log.level as LogLevel,
    });
    const running = await startRegistry({ config, logger: log });
    return {
      url: running.apiUrl,
      info: {
        admin_url: running.adminUrl,
        // Without its password: plane info is shown by `macronode status`.
        store: amnesia ? 'memory' : postgres ? redactPgUrl(String(o.db)) : o.db,
        signer_id: o.signer_id,
        signer_key: o.signer_key ?? '(ephemeral: amnesia)',
        threshold: o.threshold,
      },
      close: (g) => running.close(g),
    };
  },
});

/** A postgres:// store makes this plane one replica of a shared registry (docs/registry.md). */
function storeLocation(db: string, dataDir: string): string {
  if (isPostgres(db)) return db;
  return resolve(db !== '' ? db : join(dataDir, 'registry', 'registry.db'));
}

export function isPostgres(db: string): boolean {
  return db.startsWith('postgres://') || db.startsWith('postgresql://');
}

/** registry.db = postgres://…: the shared database answers (connects, reads; creates nothing). */
async function postgresCheck(url: string): Promise<DoctorCheck[]> {
  const { probePostgres, redactPgUrl } = await import('@ron/registry');
  const where = redactPgUrl(url);
  try {
    const p = await probePostgres(url);
    return [
      {
        name: 'registry store',
        verdict: 'ok',
        detail: `${where} answers (PostgreSQL ${p.server}; ${p.entries === null ? 'schema not created yet: the first replica creates it' : `${p.entries} log entries`})`,
      },
    ];
  } catch (err) {
    return [
      {
        name: 'registry store',
        verdict: 'fail',
        detail: `${where}: ${(err as Error).message} (check the server is up, the URL and the password)`,
      },
    ];
  }
}
