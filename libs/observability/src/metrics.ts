import { collectDefaultMetrics, Registry } from 'prom-client';

export { Registry };

/**
 * A fresh registry per process (and per test): metrics are injected, never
 * taken from prom-client's global register.
 */
export function createMetricsRegistry(service: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (withDefaults) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}
