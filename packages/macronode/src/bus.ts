// The node bus (SPEC §4.4): Health, ServiceCrashed, ConfigUpdated, Shutdown. Synchronous fan-out to
// subscribers; each subscriber bounds its own queue (the SSE writer), so a slow reader lags alone.

export type NodeEventBody =
  | { type: 'Health'; service: string; ok: boolean; state?: string }
  | {
      type: 'ServiceCrashed';
      service: string;
      reason: string;
      restart_in_ms?: number | null;
      pid?: number | null;
    }
  | { type: 'ConfigUpdated'; version: number }
  | { type: 'Shutdown' };

export type NodeEvent = NodeEventBody & { seq: number; ts: string };

export class NodeBus {
  #seq = 0;
  readonly #subs = new Set<(e: NodeEvent) => void>();
  readonly #detail: ((body: NodeEventBody) => Record<string, unknown>) | undefined;

  /** `detail` adds context to every event (the console renders a plane card from it alone). */
  constructor(detail?: (body: NodeEventBody) => Record<string, unknown>) {
    this.#detail = detail;
  }

  publish(body: NodeEventBody): NodeEvent {
    const e = { ...this.#detail?.(body), ...body, seq: ++this.#seq, ts: new Date().toISOString() };
    for (const s of this.#subs) s(e);
    return e;
  }

  subscribe(fn: (e: NodeEvent) => void): () => void {
    this.#subs.add(fn);
    return () => this.#subs.delete(fn);
  }

  get subscribers(): number {
    return this.#subs.size;
  }
}
