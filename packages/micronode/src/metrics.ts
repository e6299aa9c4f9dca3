import { Counter, Gauge } from 'prom-client';
import { HttpMetrics } from '@ron/kernel';

export const KV_OPS = ['get', 'head', 'put', 'del', 'list'] as const;
export type KvOp = (typeof KV_OPS)[number];

/** Every micronode metric (SPEC §3), defined and prewarmed here. */
export class MicronodeMetrics extends HttpMetrics {
  readonly inflight: Gauge;
  readonly kvOps: Record<KvOp, { inc(n?: number): void }>;
  readonly bytesIn: { inc(n?: number): void };
  readonly bytesOut: { inc(n?: number): void };

  constructor(opts: { defaultCollectors?: boolean } = {}) {
    super({
      requestsName: 'micronode_http_requests_total',
      latencyName: 'micronode_request_latency_seconds',
      rejectionsName: 'micronode_rejections_total',
      ...opts,
    });
    this.inflight = new Gauge({
      name: 'micronode_ready_inflight_current',
      help: 'Requests currently in flight on guarded routes',
      registers: [this.registry],
    });
    const ops = new Counter({
      name: 'micronode_kv_ops_total',
      help: 'KV operations by op',
      labelNames: ['op'],
      registers: [this.registry],
    });
    const bytes = new Counter({
      name: 'micronode_kv_bytes_total',
      help: 'KV value bytes by direction (in = written, out = read)',
      labelNames: ['dir'],
      registers: [this.registry],
    });
    this.kvOps = Object.fromEntries(KV_OPS.map((op) => [op, ops.labels(op)])) as Record<KvOp, { inc(n?: number): void }>;
    this.bytesIn = bytes.labels('in');
    this.bytesOut = bytes.labels('out');
    this.bytesIn.inc(0);
    this.bytesOut.inc(0);
    for (const op of KV_OPS) this.kvOps[op].inc(0);
  }
}
