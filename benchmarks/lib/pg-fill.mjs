// Fills a registry PostgreSQL database with n validly chained, signed commit entries (issue 14
// cold-start benchmark): every entry is sealed on the previous one's entry_b3 and carries a real
// Ed25519 signature by `key` over its own version, exactly what a replica appends, so a replica
// starting on it verifies the chain as it would in production. The schema is the one PgStore
// creates; rows go in with multi-row INSERTs (the append-only trigger still checks every version),
// a few thousand per transaction, instead of one fsync'ed transaction per entry.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));

/**
 * Appends n signed, chained commits to the registry log at `url` (which must be empty).
 * Returns { entries, head, signMs, insertMs }.
 */
export async function fillRegistryLog(url, key, n, { batch = 5000, registryId = 'default' } = {}) {
  await reg.initChain();
  await (await reg.PgStore.open(url)).close(); // creates the schema
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const have = await pool.query('SELECT count(*)::int AS n FROM registry_log');
    if (have.rows[0].n !== 0)
      throw new Error(`fillRegistryLog: ${url} already holds ${have.rows[0].n} entries`);
    let prev = reg.ZERO_B3;
    let signMs = 0;
    let insertMs = 0;
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');
    for (let from = 1; from <= n; from += batch) {
      const to = Math.min(n, from + batch - 1);
      const s0 = performance.now();
      const versions = [];
      const ops = [];
      const rows = [];
      for (let v = from; v <= to; v++) {
        const payload_b3 = `b3:fill${v}`;
        const sig = reg.signBytes(
          key,
          reg.signedBytes({ registry: registryId, op: 'commit', payload_b3, version: v }),
        );
        const e = reg.seal({
          version: v,
          op: 'commit',
          payload_b3,
          prev_b3: prev,
          committed_at: new Date(t0 + v).toISOString(),
          signatures: [sig],
        });
        prev = e.entry_b3;
        versions.push(v);
        ops.push('commit');
        rows.push(reg.canonicalJson(e));
      }
      const i0 = performance.now();
      signMs += i0 - s0;
      await pool.query(
        'INSERT INTO registry_log (version, op, entry) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) ORDER BY 1',
        [versions, ops, rows],
      );
      insertMs += performance.now() - i0;
    }
    // As autovacuum would leave it: hint bits set and statistics current, so the first replica to
    // read the rows does not pay for writing every freshly inserted page back.
    await pool.query('VACUUM (FREEZE, ANALYZE) registry_log');
    return { entries: n, head: prev, signMs, insertMs };
  } finally {
    await pool.end();
  }
}
