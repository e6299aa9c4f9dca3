import { Counter, Gauge } from 'prom-client';
import { FastCounter, HttpMetrics } from '@ron/kernel';

export const KV_OPS = ['get', 'head', 'put', 'del', 'list'] as const;
export type KvOp = (typeof KV_OPS)[number];

/**
 * Every micronode metric (SPEC §3), defined and prewarmed here. Request-path updates are plain
 * arithmetic (`FastCounter`, a number for the gauge); prom-client series are brought up to date
 * when `/metrics` is scraped.
 */
export class MicronodeMetrics extends HttpMetrics {
  readonly inflight: Gauge;
  readonly kvOps: Record<KvOp, FastCounter>;
  readonly bytesIn: FastCounter;
  readonly bytesOut: FastCounter;
  readonly #inflight = { n: 0 };

  constructor(opts: { defaultCollectors?: boolean } = {}) {
    super({
      requestsName: 'micronode_http_requests_total',
      latencyName: 'micronode_request_latency_seconds',
      rejectionsName: 'micronode_rejections_total',
      ...opts,
    });
    const inflight = this.#inflight;
    this.inflight = new Gauge({
      name: 'micronode_ready_inflight_current',
      help: 'Requests currently in flight on guarded routes',
      registers: [this.registry],
      collect() {
        this.set(inflight.n);
      },
    });
    const fast: FastCounter[] = [];
    const flush = (): void => {
      for (const c of fast) c.flush();
    };
    const ops = new Counter({
      name: 'micronode_kv_ops_total',
      help: 'KV operations by op',
      labelNames: ['op'],
      registers: [this.registry],
      collect: flush,
    });
    const bytes = new Counter({
      name: 'micronode_kv_bytes_total',
      help: 'KV value bytes by direction (in = written, out = read)',
      labelNames: ['dir'],
      registers: [this.registry],
      collect: flush,
    });
    const child = (counter: Counter<string>, label: string): FastCounter => {
      const series = counter.labels(label);
      series.inc(0); // prewarm
      const c = new FastCounter(series);
      fast.push(c);
      return c;
    };
    this.kvOps = Object.fromEntries(KV_OPS.map((op) => [op, child(ops, op)])) as Record<KvOp, FastCounter>;
    this.bytesIn = child(bytes, 'in');
    this.bytesOut = child(bytes, 'out');
  }

  /** Moves the in-flight count by +1/-1 (the guards' `onInflight`). */
  inflightDelta(d: 1 | -1): void {
    this.#inflight.n += d;
  }
}
