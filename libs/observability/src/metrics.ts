import { collectDefaultMetrics, Registry, type OpenMetricsContentType } from 'prom-client';

export { Registry };

/**
 * A fresh registry per process (and per test): metrics are injected, never
 * taken from prom-client's global register. It serves the OpenMetrics text
 * format, the only one that carries exemplars (the freshness histograms'
 * trace ids); Prometheus reads it as it reads the classic format (the same
 * sample names, counters keep their _total).
 */
export function createMetricsRegistry(service: string, withDefaults = true): Registry {
  const registry = new Registry();
  // Typed as the classic registry, which every collaborator takes; only the exposition differs.
  (registry as unknown as Registry<OpenMetricsContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ service });
  if (withDefaults) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}
