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
] as const;
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

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/** Cached label children for one (method, route): per-request cost is two property reads. */
export class RouteMetrics {
  readonly #statusChildren = new Map<number, CounterChild>();
  readonly latency: HistogramChild;

  constructor(
    readonly metrics: HttpMetrics,
    readonly method: string,
    readonly route: string,
  ) {
    this.latency = metrics.latency.labels(method, route);
    // Prewarm: an observed-nothing histogram series exists from boot.
    metrics.latency.zero({ method, route });
  }

  status(code: number): CounterChild {
    let c = this.#statusChildren.get(code);
    if (c === undefined) {
      c = this.metrics.requests.labels(this.method, this.route, String(code));
      c.inc(0);
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
  readonly rejections: Counter<'reason'>;
  readonly #routes = new Map<string, RouteMetrics>();
  readonly #rejectionChildren = new Map<string, CounterChild>();

  constructor(opts: HttpMetricsOptions) {
    if (opts.defaultCollectors !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: opts.requestsName,
      help: 'HTTP requests by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: opts.latencyName,
      help: 'HTTP request latency in seconds by method and route template',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.rejections = new Counter({
      name: opts.rejectionsName,
      help: 'Requests rejected by an ingress guard, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    for (const r of [...REJECTION_REASONS, ...(opts.extraReasons ?? [])]) this.rejection(r);
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

  rejection(reason: string): CounterChild {
    let c = this.#rejectionChildren.get(reason);
    if (c === undefined) {
      c = this.rejections.labels(reason);
      c.inc(0);
      this.#rejectionChildren.set(reason, c);
    }
    return c;
  }

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
