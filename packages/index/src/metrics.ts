import { Counter } from 'prom-client';
import { FastCounter, HttpMetrics } from '@ron/kernel';

export const INDEX_OPS = ['get', 'put', 'delete', 'list', 'history', 'content'] as const;
export type IndexOp = (typeof INDEX_OPS)[number];

/** Every svc-index metric (SPEC §4.5.2), defined and prewarmed here. */
export class IndexMetrics extends HttpMetrics {
  readonly ops: Record<IndexOp, FastCounter>;
  readonly casFailures: FastCounter;

  constructor(opts: { defaultCollectors?: boolean } = {}) {
    super({
      requestsName: 'index_http_requests_total',
      latencyName: 'index_request_latency_seconds',
      rejectionsName: 'index_rejections_total',
      ...opts,
    });
    const fast: FastCounter[] = [];
    const flush = (): void => {
      for (const c of fast) c.flush();
    };
    const ops = new Counter({
      name: 'index_ops_total',
      help: 'Index operations by op',
      labelNames: ['op'],
      registers: [this.registry],
      collect: flush,
    });
    const cas = new Counter({
      name: 'index_precondition_failures_total',
      help: 'Writes refused because If-Match / If-None-Match did not hold (412)',
      registers: [this.registry],
      collect: flush,
    });
    const wrap = (series: Counter['labels'] extends (...a: never[]) => infer R ? R : never): FastCounter => {
      series.inc(0);
      const c = new FastCounter(series);
      fast.push(c);
      return c;
    };
    this.ops = Object.fromEntries(INDEX_OPS.map((op) => [op, wrap(ops.labels(op))])) as Record<
      IndexOp,
      FastCounter
    >;
    this.casFailures = wrap(cas.labels());
  }
}
