import { Gauge, type Registry } from 'prom-client';

/** The one readiness series every program exports, so one alert rule covers every job. */
export const READY_GAUGE_NAME = 'ron_ready';

/**
 * Registers `ron_ready` (1 while `/readyz` would answer 200, else 0), evaluated at scrape time from
 * the same probes `/readyz` runs, so the alert and the endpoint can never disagree.
 */
export function registerReadyGauge(registry: Registry, isReady: () => boolean): void {
  if (registry.getSingleMetric(READY_GAUGE_NAME)) registry.removeSingleMetric(READY_GAUGE_NAME);
  new Gauge({
    name: READY_GAUGE_NAME,
    help: '1 while the program reports ready on /readyz, 0 otherwise',
    registers: [registry],
    collect() {
      this.set(isReady() ? 1 : 0);
    },
  });
}
