import { Counter, Gauge } from 'prom-client';
import { FastCounter, HttpMetrics } from '@ron/kernel';

/** What the store reports to the gauges at scrape time. */
export interface StoreTotals {
  objects: number;
  chunks: number;
  logical_bytes: number;
  stored_bytes: number;
}

/**
 * Every svc-storage metric (`storage_*`), defined and prewarmed here. Counters on the request path
 * are plain arithmetic (`FastCounter`); gauges read the store's totals when `/metrics` is scraped.
 */
export class StorageMetrics extends HttpMetrics {
  readonly bytesIn: FastCounter;
  readonly bytesOut: FastCounter;
  readonly uploads: Record<'created' | 'existing' | 'failed', FastCounter>;
  readonly verifyFailures: FastCounter;
  readonly gcRuns: FastCounter;
  readonly gcBytesFreed: FastCounter;
  #totals: () => StoreTotals | undefined = () => undefined;

  constructor(opts: { defaultCollectors?: boolean } = {}) {
    super({
      requestsName: 'storage_http_requests_total',
      latencyName: 'storage_request_latency_seconds',
      rejectionsName: 'storage_rejections_total',
      ...opts,
    });
    const fast: FastCounter[] = [];
    const flush = (): void => {
      for (const c of fast) c.flush();
    };
    const reg = [this.registry];
    const child = (counter: Counter<string>, ...labels: string[]): FastCounter => {
      const series = labels.length === 0 ? counter.labels({}) : counter.labels(...labels);
      series.inc(0); // prewarm
      const c = new FastCounter(series);
      fast.push(c);
      return c;
    };
    const bytes = new Counter({
      name: 'storage_bytes_total',
      help: 'Object bytes by direction (in = uploaded, out = served)',
      labelNames: ['dir'],
      registers: reg,
      collect: flush,
    });
    this.bytesIn = child(bytes, 'in');
    this.bytesOut = child(bytes, 'out');
    const uploads = new Counter({
      name: 'storage_uploads_total',
      help: 'Uploads by result',
      labelNames: ['result'],
      registers: reg,
      collect: flush,
    });
    this.uploads = {
      created: child(uploads, 'created'),
      existing: child(uploads, 'existing'),
      failed: child(uploads, 'failed'),
    };
    this.verifyFailures = child(
      new Counter({
        name: 'storage_verify_failures_total',
        help: 'Chunks whose BLAKE3 did not match their record when read',
        registers: reg,
        collect: flush,
      }),
    );
    this.gcRuns = child(
      new Counter({
        name: 'storage_gc_runs_total',
        help: 'Background GC steps that freed something',
        registers: reg,
        collect: flush,
      }),
    );
    this.gcBytesFreed = child(
      new Counter({
        name: 'storage_gc_bytes_freed_total',
        help: 'Chunk bytes freed by the background GC',
        registers: reg,
        collect: flush,
      }),
    );
    const gauge = (name: string, help: string, pick: (t: StoreTotals) => number): void => {
      const totals = (): StoreTotals | undefined => this.#totals();
      new Gauge({
        name,
        help,
        registers: reg,
        collect() {
          const t = totals();
          this.set(t === undefined ? 0 : pick(t));
        },
      });
    };
    gauge('storage_objects', 'Objects stored', (t) => t.objects);
    gauge('storage_chunks', 'Distinct chunks stored', (t) => t.chunks);
    gauge('storage_logical_bytes', 'Sum of the sizes of all objects', (t) => t.logical_bytes);
    gauge(
      'storage_stored_bytes',
      'Bytes of distinct chunks kept (after deduplication)',
      (t) => t.stored_bytes,
    );
    gauge('storage_dedup_ratio', 'logical_bytes / stored_bytes (1 when empty)', (t) => dedupRatio(t));
  }

  /** Where the gauges read the store's totals (set once the store is open). */
  setTotals(fn: () => StoreTotals | undefined): void {
    this.#totals = fn;
  }
}

/** logical / stored, 1 for an empty store; rounded to 4 decimals. */
export function dedupRatio(t: StoreTotals): number {
  return t.stored_bytes === 0 ? 1 : Math.round((t.logical_bytes / t.stored_bytes) * 10_000) / 10_000;
}
