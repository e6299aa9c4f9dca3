import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** 50 µs … 10 s (SPEC §1.5). */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export const REJECTION_REASONS = [
  'decode',
  'stacked_encoding',
  'length_required',
  'body_cap',
  'concurrency',
  'rate_limit',
  'timeout',
  // Refused before routing (SPEC §1.3a): node's parser (400, 431) and its request timeout (408).
  'malformed',
  'headers_too_large',
  'read_timeout',
] as const;
/** Statuses answered before routing (SPEC §1.3a), counted under `route="unmatched"`. */
export const REFUSED_STATUSES = [400, 408, 431] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface HttpMetricsOptions {
  /** Name of the request counter, e.g. `micronode_http_requests_total`. */
  requestsName: string;
  /** Name of the latency histogram, e.g. `micronode_request_latency_seconds`. */
  latencyName: string;
  /** Name of the guard rejection counter, e.g. `micronode_rejections_total`. */
  rejectionsName: string;
  /** Extra rejection reasons a program defines (prewarmed with the built-in ones). */
  extraReasons?: readonly string[];
  /** Skip the default process_/nodejs_ collectors (only for test apps sharing a process). */
  defaultCollectors?: boolean;
}

const PROMTOOL_MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

type CounterChild = ReturnType<Counter<string>['labels']>;

/**
 * A counter child updated with plain arithmetic on the request path; the pending amount is added to
 * the prom-client series when the registry is scraped (prom-client hashes the label set on every
 * `inc`, which costs more than the rest of our per-request metrics work together).
 */
export class FastCounter {
  #pending = 0;
  constructor(readonly series: CounterChild) {}
  inc(n = 1): void {
    this.#pending += n;
  }
  /** Moves the pending amount into the prom-client series (called at scrape). */
  flush(): void {
    if (this.#pending !== 0) {
      this.series.inc(this.#pending);
      this.#pending = 0;
    }
  }
}

/** One latency series kept by hand: bucket counts, sum and count; exported by `LatencyHistogram`. */
export class FastHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    const b = this.bounds;
    // Linear scan: most requests land in the first few (sub-millisecond) buckets.
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]! += 1;
    this.sum += v;
    this.count++;
  }
}

interface PromValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/**
 * A prom-client Histogram that also exports the hand-kept route series. Children made with
 * `labels()` keep working through prom-client as before; `HttpMetrics.route()` children take the
 * fast path. Both appear in one exposition.
 */
type HistogramData = Awaited<ReturnType<Histogram<'method' | 'route'>['get']>>;
// prom-client's registry renders histograms through this (untyped) method; we extend it.
const histogramProto = Histogram.prototype as unknown as {
  getForPromString: (this: unknown) => Promise<{ values: PromValue[] }>;
};
const baseGetForPromString = histogramProto.getForPromString;

class LatencyHistogram extends Histogram<'method' | 'route'> {
  readonly fast: FastHistogram[] = [];
  readonly #name: string;

  constructor(cfg: ConstructorParameters<typeof Histogram<'method' | 'route'>>[0]) {
    super(cfg);
    this.#name = cfg.name;
  }

  async getForPromString(): Promise<HistogramData> {
    const base = await baseGetForPromString.call(this);
    const name = this.#name;
    for (const h of this.fast) {
      let acc = 0;
      for (let i = 0; i < h.bounds.length; i++) {
        acc += h.counts[i]!;
        base.values.push({
          labels: { le: h.bounds[i]! },
          sharedLabels: { ...h.labels },
          value: acc,
          metricName: `${name}_bucket`,
          exemplar: null,
        });
      }
      base.values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: { ...h.labels },
          value: h.count,
          metricName: `${name}_bucket`,
          exemplar: null,
        },
        {
          labels: {},
          sharedLabels: { ...h.labels },
          value: h.sum,
          metricName: `${name}_sum`,
          exemplar: undefined,
        },
        {
          labels: {},
          sharedLabels: { ...h.labels },
          value: h.count,
          metricName: `${name}_count`,
          exemplar: undefined,
        },
      );
    }
    return base as unknown as HistogramData;
  }

  override async get(): Promise<HistogramData> {
    const data = (await this.getForPromString()) as unknown as { values: PromValue[] };
    // Same shape prom-client's own get() returns: shared labels folded into labels.
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    })) as PromValue[];
    return data as unknown as HistogramData;
  }

  override reset(): void {
    super.reset();
    // Called by prom-client's constructor too, before our fields exist.
    for (const h of (this.fast as FastHistogram[] | undefined) ?? []) {
      h.counts.fill(0);
      h.sum = 0;
      h.count = 0;
    }
  }
}

/** Cached label children for one (method, route): per-request cost is a few additions. */
export class RouteMetrics {
  readonly #statusChildren = new Map<number, FastCounter>();
  /** The latency series of this route (`observe(seconds)`). */
  readonly latency: FastHistogram;

  constructor(
    readonly metrics: HttpMetrics,
    readonly method: string,
    readonly route: string,
  ) {
    // Prewarm: the series exists (all zero) from boot.
    this.latency = metrics.fastLatency(method, route);
  }

  status(code: number): FastCounter {
    let c = this.#statusChildren.get(code);
    if (c === undefined) {
      c = this.metrics.fastRequests(this.method, this.route, code);
      this.#statusChildren.set(code, c);
    }
    return c;
  }
}

/** The per-program metric set: a private registry plus the shared HTTP series. */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly #fastCounters: FastCounter[] = [];
  readonly rejections: Counter<'reason'>;
  readonly #routes = new Map<string, RouteMetrics>();
  readonly #rejectionChildren = new Map<string, FastCounter>();
  readonly #refused = new Map<number, FastCounter>();

  constructor(opts: HttpMetricsOptions) {
    if (opts.defaultCollectors !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (SPEC §1.1);
      // their per-type twins (nodejs_active_handles{type}, …) stay.
      for (const n of PROMTOOL_MISNAMED) this.registry.removeSingleMetric(n);
    }
    const fastCounters = this.#fastCounters;
    this.requests = new Counter({
      name: opts.requestsName,
      help: 'HTTP requests by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
      collect() {
        for (const c of fastCounters) c.flush();
      },
    });
    this.latency = new LatencyHistogram({
      name: opts.latencyName,
      help: 'HTTP request latency in seconds by method and route template',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    const rejectionChildren = this.#rejectionChildren;
    this.rejections = new Counter({
      name: opts.rejectionsName,
      help: 'Requests rejected by an ingress guard, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        for (const c of rejectionChildren.values()) c.flush();
      },
    });
    for (const r of [...REJECTION_REASONS, ...(opts.extraReasons ?? [])]) this.rejection(r);
    for (const status of REFUSED_STATUSES) this.refused(status);
  }

  /** Cached children for a route template; prewarms the 200 series and the histogram. */
  route(method: string, route: string): RouteMetrics {
    const key = `${method} ${route}`;
    let rm = this.#routes.get(key);
    if (rm === undefined) {
      rm = new RouteMetrics(this, method, route);
      this.#routes.set(key, rm);
    }
    return rm;
  }

  /** A fast request counter child for (method, route, status), prewarmed at 0. */
  fastRequests(method: string, route: string, status: number): FastCounter {
    const series = this.requests.labels(method, route, String(status));
    series.inc(0);
    const c = new FastCounter(series);
    this.#fastCounters.push(c);
    return c;
  }

  /** A fast latency series for (method, route), exported with the histogram. */
  fastLatency(method: string, route: string): FastHistogram {
    const h = new FastHistogram(LATENCY_BUCKETS, { method, route });
    (this.latency as LatencyHistogram).fast.push(h);
    return h;
  }

  /** The cached (fast) rejection counter for a reason, prewarmed at 0. */
  rejection(reason: string): FastCounter {
    let c = this.#rejectionChildren.get(reason);
    if (c === undefined) {
      const series = this.rejections.labels(reason);
      series.inc(0);
      c = new FastCounter(series);
      this.#rejectionChildren.set(reason, c);
    }
    return c;
  }

  /**
   * The request counter for an answer given before routing (SPEC §1.3a: 400, 408, 431 from the HTTP
   * parser or its timeout): `{method="unknown",route="unmatched",status}`, the method being unknown
   * when the request line was not (or not whole) read. Prewarmed at boot.
   */
  refused(status: number): FastCounter {
    let c = this.#refused.get(status);
    if (c === undefined) {
      c = this.fastRequests('unknown', 'unmatched', status);
      this.#refused.set(status, c);
    }
    return c;
  }

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
