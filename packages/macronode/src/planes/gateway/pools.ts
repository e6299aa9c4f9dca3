import { Pool } from 'undici';
import type { RouteTable } from './routes.js';

/**
 * Keep-alive connection pools to the planes' internal listeners, one per plane URL. A plane that
 * restarted on a new port gets a new pool; pools to URLs no plane serves any more are closed then.
 */
export class PlanePools {
  readonly #pools = new Map<string, Pool>();
  readonly #routes: () => RouteTable;

  constructor(routes: () => RouteTable) {
    this.#routes = routes;
  }

  get(url: string): Pool {
    let p = this.#pools.get(url);
    if (p === undefined) {
      for (const [u, old] of this.#pools) {
        if (!Object.values(this.#routes().planes).some((e) => e.url === u)) {
          this.#pools.delete(u);
          void old.close().catch(() => undefined);
        }
      }
      p = new Pool(url, { connections: 128, keepAliveTimeout: 30_000 });
      this.#pools.set(url, p);
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close().catch(() => undefined)));
    this.#pools.clear();
  }
}
