import { HttpMetrics, closeWithGrace, listen, parseAddr } from '@ron/kernel';
import type { RouteTable } from './routes.js';
import { httpsFactoryFrom, readTlsFiles, swapTls, type TlsFiles } from '../../tls.js';
import { childSpecFields, definePlane } from '../plane.js';

/** The host's pushes to the gateway plane. */
export type GatewayMessage =
  { type: 'routes'; table: RouteTable & { tls: TlsFiles } } | { type: 'tls_reload' };

/**
 * gateway: the public ingress (SPEC §4.5) as a plane of its own. The host pushes the route table
 * (plane URLs, states, next restart times, live limits, TLS file paths) over IPC on every change; the
 * gateway is ready once it has a table and its listener is bound.
 */
export const gatewayPlane = definePlane({
  name: 'gateway',
  alwaysOn: true,
  config: childSpecFields('gateway', {
    shutdownMs: 12_000,
    shutdownDoc: 'SIGTERM→SIGKILL grace for the gateway (covers its drain)',
  }),
  prefixes: [],
  tryIt: 'curl {gateway}/ingress/ping',
  options(_own, host) {
    return {
      addr: host.gateway_addr,
      idle_timeout: host.idle_timeout,
      read_timeout: host.read_timeout,
      max_inflight: host['limits.gateway_max_inflight'],
    };
  },
  async start(o, log, ctx) {
    const { createGateway } = await import('./proxy.js');
    let table: (RouteTable & { tls: TlsFiles }) | undefined;
    let gotFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (gotFirst = resolve));
    const live: { server?: unknown } = {};
    ctx.onMessage((raw) => {
      const m = raw as GatewayMessage;
      if (m.type === 'routes') {
        table = m.table;
        gotFirst();
      } else if (m.type === 'tls_reload' && table !== undefined && live.server !== undefined) {
        try {
          const opts = readTlsFiles(table.tls, 'gateway');
          if (opts) swapTls(live.server, opts);
          log.info('gateway certificates reloaded');
        } catch (err) {
          log.error({ err: (err as Error).message }, 'gateway certificates not reloaded');
        }
      }
    });
    const t = setTimeout(() => log.warn('waiting for the route table from the host'), 5000);
    await first;
    clearTimeout(t);
    const metrics = new HttpMetrics({
      requestsName: 'gateway_http_requests_total',
      latencyName: 'gateway_request_latency_seconds',
      rejectionsName: 'gateway_rejections_total',
      defaultCollectors: false,
    });
    const tls = readTlsFiles(table!.tls, 'gateway');
    const gw = createGateway({
      logger: log,
      metrics,
      routes: () => table!,
      idleTimeoutMs: Number(o.idle_timeout),
      readTimeoutMs: Number(o.read_timeout),
      maxInflight: Number(o.max_inflight),
      serverFactory: httpsFactoryFrom(tls),
    });
    const url = await listen(gw.app, parseAddr(String(o.addr))!, tls ? 'https' : 'http');
    live.server = gw.app.server;
    return {
      url,
      metrics: () => metrics.render(),
      async close(g) {
        await closeWithGrace(gw.app, g);
        await gw.close();
        log.info({ event: 'gateway_drained' }, 'gateway drained and closed');
      },
    };
  },
});
