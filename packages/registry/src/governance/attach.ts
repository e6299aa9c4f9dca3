// Wires governance onto a Registry: boot replay of the log, live folding of appends, rotation → commit allow-list.
import { ChainError } from '../errors.js';
import type { Registry } from '../registry.js';
import { Governance, REJECT_REASONS, type GovernanceMetrics, type UpdateResult } from './governance.js';
import type { KeyFile } from '../signing.js';
import type { LogEntry } from '../log-entry.js';
import { initialSignerSet } from './signer-set.js';

export interface AttachGovernanceOptions {
  metrics?: GovernanceMetrics;
  proposalTtlMs?: number;
  maxPendingProposals?: number;
  now?: () => number;
  /** Dev mode on loopback: sign unsigned proposals with this key. */
  devKey?: KeyFile;
  /**
   * The log from the floor to the registry's current head as `Registry.open` replayed it, in order
   * (commit entries may be left out: they fold to nothing). Folded instead of reading the log again
   * (a replica on a large log would otherwise fetch and parse every entry twice at start).
   */
  replayed?: Iterable<LogEntry>;
}

/**
 * Builds the Governance for a registry: the genesis signer set is the configured allow-list and
 * threshold; every later set comes from `op:"signers"` entries of the log.
 * @example const gov = await attachGovernance(registry, { metrics })
 */
export async function attachGovernance(reg: Registry, o: AttachGovernanceOptions = {}): Promise<Governance> {
  const gov = new Governance({
    registryId: reg.registryId,
    initialSigners: initialSignerSet(reg.signers, reg.threshold),
    log: { append: (e) => reg.appendGoverned(e) },
    onSignerSet: (set) => reg.useSigners(set.signers, set.threshold),
    proposals: reg.store,
    ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
    ...(o.proposalTtlMs !== undefined ? { proposalTtlMs: o.proposalTtlMs } : {}),
    ...(o.maxPendingProposals !== undefined ? { maxPendingProposals: o.maxPendingProposals } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
    ...(o.devKey !== undefined ? { devKey: o.devKey } : {}),
  });
  // 1. Fold the retained log (boot), 2. then every append as it becomes durable.
  const fold = (e: LogEntry): void => {
    try {
      gov.replay(e);
    } catch (err) {
      // A chain-valid entry whose governance body cannot be folded is corruption too (exit 65).
      throw new ChainError(
        e.version,
        `the ${e.op} entry cannot be replayed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  if (o.replayed !== undefined) {
    for (const e of o.replayed) fold(e);
  } else {
    let after = reg.floor() - 1;
    for (;;) {
      const page = await reg.range(after, 2000);
      for (const e of page) fold(e);
      if (page.length < 2000) break;
      after = (page[page.length - 1] as { version: number }).version;
    }
  }
  reg.onAppend((e) => gov.replay(e));
  // 3. The durable proposals, judged against the folded state (stale, signer sets).
  await gov.loadProposals();
  return gov;
}

/** The slice of the registry's metrics.ts that governance drives (structural, so no import cycle). */
export interface RegistryMetricsLike {
  updates: Record<UpdateResult, { inc(n?: number): void }>;
  descriptors: { labels(state: string): { set(n: number): void } };
  rejection(reason: string): { inc(n?: number): void };
}

/**
 * Governance metric hooks onto the registry's series: `registry_update_total{result}`,
 * `rejected_total{reason}` (governance reasons prewarmed here) and `registry_descriptors_total{state}`.
 */
export function governanceMetrics(m: RegistryMetricsLike): GovernanceMetrics {
  for (const r of REJECT_REASONS) m.rejection(r);
  return {
    update: (result) => m.updates[result].inc(),
    rejected: (reason) => m.rejection(reason).inc(),
    descriptors: (counts) => {
      // Entered-state totals: every deprecated descriptor was published first.
      m.descriptors.labels('published').set(counts.published + counts.deprecated);
      m.descriptors.labels('deprecated').set(counts.deprecated);
    },
  };
}
