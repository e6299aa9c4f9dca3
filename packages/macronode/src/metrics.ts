import { Counter, Gauge } from 'prom-client';
import { HttpMetrics } from '@ron/kernel';

const PLANE_STATES = ['starting', 'running', 'restarting', 'failed', 'stopping', 'stopped'] as const;

/** Every metric macronode defines (SPEC §4.4): admin HTTP series plus the supervisor's. */
export class MacronodeMetrics {
  readonly http = new HttpMetrics({
    requestsName: 'macronode_http_requests_total',
    latencyName: 'macronode_request_latency_seconds',
    rejectionsName: 'macronode_rejections_total',
    extraReasons: ['auth'],
  });
  readonly restarts: Counter<'service'>;
  readonly up: Gauge<'service'>;
  readonly uptime: Gauge<'service'>;
  /** One series per (plane, state); exactly one of a plane's states is 1 (kube-state-metrics style). */
  readonly state: Gauge<'service' | 'state'>;
  readonly lagged: Counter<'service'>;

  constructor(services: readonly string[], uptimeOf: (service: string) => number) {
    const registers = [this.http.registry];
    this.restarts = new Counter({
      name: 'service_restarts_total',
      help: 'Plane restarts by the supervisor',
      labelNames: ['service'],
      registers,
    });
    this.up = new Gauge({
      name: 'service_up',
      help: '1 while the plane is running and ready',
      labelNames: ['service'],
      registers,
    });
    this.state = new Gauge({
      name: 'service_state',
      help: 'Supervisor state of each plane: 1 for the current state, 0 for the others',
      labelNames: ['service', 'state'],
      registers,
    });
    this.lagged = new Counter({
      name: 'bus_lagged_total',
      help: 'Node bus subscribers dropped for lagging, by subscriber service',
      labelNames: ['service'],
      registers,
    });
    const all = services;
    this.uptime = new Gauge({
      name: 'service_uptime_seconds',
      help: 'Seconds since the plane last became ready (0 while down)',
      labelNames: ['service'],
      registers,
      collect() {
        for (const s of all) this.set({ service: s }, uptimeOf(s));
      },
    });
    for (const s of services) this.prewarm(s);
    // The admin event stream is a bus subscriber too.
    this.lagged.inc({ service: 'admin_events' }, 0);
  }

  prewarm(service: string): void {
    this.restarts.inc({ service }, 0);
    this.up.set({ service }, 0);
    this.setState(service, 'stopped');
    this.lagged.inc({ service }, 0);
  }

  setState(service: string, current: string): void {
    for (const state of PLANE_STATES) this.state.set({ service, state }, state === current ? 1 : 0);
  }

  render(): Promise<string> {
    return this.http.render();
  }
}
