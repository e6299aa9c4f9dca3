import { Counter, Gauge, Histogram } from 'prom-client';
import { FastCounter, HttpMetrics, LATENCY_BUCKETS } from '@ron/kernel';

export const COMMIT_RESULTS = [
  'ok',
  'no_quorum',
  'bad_signature',
  'invalid',
  'read_only',
  'store_error',
] as const;
export type CommitResult = (typeof COMMIT_RESULTS)[number];
export const UPDATE_RESULTS = ['applied', 'rejected', 'invalid_sig'] as const;
export const DESCRIPTOR_STATES = ['published', 'deprecated'] as const;

type Inc = { inc(n?: number): void };

/** Every svc-registry metric (SPEC §2.7), defined and prewarmed here. */
export class RegistryMetrics extends HttpMetrics {
  readonly commits: Record<CommitResult, FastCounter>;
  readonly commitLatency: Histogram;
  readonly headVersion: Gauge;
  readonly descriptors: MonotonicCounter;
  readonly updates: Record<(typeof UPDATE_RESULTS)[number], FastCounter>;
  readonly sseClients: Gauge;
  readonly sseConnected: Counter;
  readonly sseDisconnected: Counter;
  readonly sseDropped: Counter;
  readonly busLagged: Counter;
  readonly auditFaults: Counter;
  /** Reorder window: waiting commits sealed in order, or answered after their window. */
  readonly reorder: Record<'sealed' | 'expired', Inc>;
  /** PostgreSQL replicas: 1 while the shared database answers, 0 while it is unreachable. */
  readonly storeReachable: Gauge;
  /** PostgreSQL replicas: entries appended by other replicas and ingested by this one. */
  readonly replicated: Counter;

  constructor(opts: { defaultCollectors?: boolean } = {}) {
    super({
      requestsName: 'requests_total',
      latencyName: 'request_latency_seconds',
      rejectionsName: 'rejected_total',
      // Commit refusals (also used by governance writes) are prewarmed here, with the guards'.
      extraReasons: ['read_only', 'too_many_streams', 'bad_request', 'bad_signature', 'no_quorum'],
      ...opts,
    });
    const r = [this.registry];
    // Counted on every commit: plain numbers on the request path, moved into the series at scrape
    // (prom-client hashes the label set on every inc()).
    const fast: FastCounter[] = [];
    const flush = (): void => {
      for (const c of fast) c.flush();
    };
    const wrap = (series: ConstructorParameters<typeof FastCounter>[0]): FastCounter => {
      series.inc(0);
      const c = new FastCounter(series);
      fast.push(c);
      return c;
    };
    const commits = new Counter({
      name: 'registry_commits_total',
      help: 'Commit attempts by result',
      labelNames: ['result'],
      registers: r,
      collect: flush,
    });
    this.commits = Object.fromEntries(COMMIT_RESULTS.map((x) => [x, wrap(commits.labels(x))])) as Record<
      CommitResult,
      FastCounter
    >;
    this.commitLatency = new Histogram({
      name: 'registry_commit_latency_seconds',
      help: 'Time from a commit request to its durable append',
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
    this.headVersion = new Gauge({
      name: 'registry_head_version',
      help: 'Current head version',
      registers: r,
    });
    // A counter of descriptors that have *entered* each state: states are additive (published →
    // deprecated) so it only grows, and promtool accepts the SPEC's `_total` name only on counters.
    // Current published = published − deprecated.
    this.descriptors = new MonotonicCounter(
      new Counter({
        name: 'registry_descriptors_total',
        help: 'Descriptors that have entered each state (published includes those later deprecated)',
        labelNames: ['state'],
        registers: r,
      }),
    );
    const updates = new Counter({
      name: 'registry_update_total',
      help: 'Write outcomes: applied, rejected (quorum/validation) or invalid_sig',
      labelNames: ['result'],
      registers: r,
      collect: flush,
    });
    this.updates = Object.fromEntries(UPDATE_RESULTS.map((x) => [x, wrap(updates.labels(x))])) as Record<
      (typeof UPDATE_RESULTS)[number],
      FastCounter
    >;
    const reorder = new Counter({
      name: 'registry_commit_reorder_total',
      help: 'Commits that waited in the reorder window: sealed (in order, once the versions below arrived) or expired (answered with the refusal after the window)',
      labelNames: ['result'],
      registers: r,
    });
    this.reorder = { sealed: reorder.labels('sealed'), expired: reorder.labels('expired') };
    this.sseClients = new Gauge({
      name: 'registry_sse_clients',
      help: 'Connected stream clients',
      registers: r,
    });
    this.sseConnected = new Counter({
      name: 'registry_sse_clients_connected_total',
      help: 'Stream clients accepted',
      registers: r,
    });
    this.sseDisconnected = new Counter({
      name: 'registry_sse_clients_disconnected_total',
      help: 'Stream clients gone',
      registers: r,
    });
    this.sseDropped = new Counter({
      name: 'registry_sse_dropped_total',
      help: 'Stream clients dropped for falling behind',
      registers: r,
    });
    this.busLagged = new Counter({
      name: 'bus_lagged_total',
      help: 'Fan-out overflows (a subscriber lagged past its buffer)',
      registers: r,
    });
    this.storeReachable = new Gauge({
      name: 'registry_store_reachable',
      help: 'PostgreSQL store: 1 while the database answers, 0 while it is unreachable (writes 503)',
      registers: r,
    });
    this.replicated = new Counter({
      name: 'registry_replicated_entries_total',
      help: 'Log entries appended by other replicas and ingested by this one (PostgreSQL store)',
      registers: r,
    });
    this.auditFaults = new Counter({
      name: 'registry_audit_faults_total',
      help: 'Log entries whose signatures failed the background audit (writes are refused after one)',
      registers: r,
    });
    // Prewarm every series (commits and updates were, by wrap()).
    for (const s of DESCRIPTOR_STATES) this.descriptors.labels(s).set(0);
    this.commitLatency.zero({});
    this.headVersion.set(0);
    this.sseClients.set(0);
    for (const c of [
      this.sseConnected,
      this.sseDisconnected,
      this.sseDropped,
      this.busLagged,
      this.auditFaults,
    ])
      c.inc(0);
  }
}

/** A labelled counter driven by absolute totals: `set(n)` adds the increase since the last set. */
export class MonotonicCounter {
  readonly #c: Counter<'state'>;
  readonly #last = new Map<string, number>();
  constructor(c: Counter<'state'>) {
    this.#c = c;
  }
  labels(state: string): { set(n: number): void } {
    return {
      set: (n: number) => {
        const last = this.#last.get(state) ?? 0;
        if (n > last) this.#c.labels(state).inc(n - last);
        else if (n === 0 && last === 0) this.#c.labels(state).inc(0);
        this.#last.set(state, Math.max(n, last));
      },
    };
  }
}
