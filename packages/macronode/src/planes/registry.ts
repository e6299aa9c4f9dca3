import { loadConfig } from '@ron/kernel';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { PlaneModule } from './plane.js';
import { ensureSignerKey } from './signer-key.js';

/** The registry id the node's registry plane signs under (svc-registry's default `registry_id`). */
export const NODE_REGISTRY_ID = 'default';

/**
 * registry: svc-registry (SPEC §2) started through its public entry point, its store under
 * data_dir, writes signature-gated by the node's local signer key (threshold `registry.sig_threshold`).
 */
export const registryPlane: PlaneModule = {
  name: 'registry',
  prefixes: ['/registry', '/v1/registry'],
  tryIt:
    'curl {gateway}/registry/head ; writes need a signature from {signer_key}: ronctl registry publish --key {signer_key} --file <descriptor.json>',
  options(c) {
    const key = ensureSignerKey(c);
    return {
      // A postgres:// store makes this plane one replica of a shared registry (docs/registry.md).
      db: isPostgres(c['registry.db'])
        ? c['registry.db']
        : resolve(c['registry.db'] !== '' ? c['registry.db'] : join(c.data_dir, 'registry', 'registry.db')),
      amnesia: c.amnesia,
      signer_id: key.signerId,
      signer_key: key.path,
      threshold: c['registry.sig_threshold'],
      shutdown_grace: c.shutdown_grace,
    };
  },
  async start(o, log) {
    // Loaded here, in the plane's own process only (keeps the host and other planes lean).
    const { registrySchema, startRegistry, validateRegistryConfig } = await import('@ron/registry');
    const amnesia = o.amnesia === true;
    const postgres = isPostgres(String(o.db));
    if (!amnesia && !postgres) mkdirSync(dirname(String(o.db)), { recursive: true });
    const { config } = loadConfig({
      schema: registrySchema,
      env: {},
      flags: {
        bind: '127.0.0.1:0',
        adminBind: '127.0.0.1:0',
        db: String(o.db),
        amnesia: amnesia ? true : undefined,
        sigThreshold: String(o.threshold),
        allowSigner: [String(o.signer_id)],
        logLevel: log.level,
      },
      validate: validateRegistryConfig,
    });
    const running = await startRegistry({ config, logger: log });
    return {
      url: running.apiUrl,
      info: {
        admin_url: running.adminUrl,
        store: amnesia ? 'memory' : postgres ? redactUrl(String(o.db)) : o.db,
        signer_id: o.signer_id,
        signer_key: o.signer_key ?? '(ephemeral: amnesia)',
        threshold: o.threshold,
      },
      close: (g) => running.close(g),
    };
  },
};

function isPostgres(db: string): boolean {
  return db.startsWith('postgres://') || db.startsWith('postgresql://');
}

/** The URL without its password (plane info is shown by `macronode status`). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable)';
  }
}
