import { Counter, type Registry } from 'prom-client';

const NAME = 'sluice_backpressure_drops_total';

/**
 * The one counter of requests shed before any work, shared by every stage
 * that sheds (lag, event loop, …): get-or-create on the registry, so stages
 * built independently count into the same series.
 */
export function backpressureDrops(registry: Registry): Counter<'stage' | 'reason'> {
  return (
    (registry.getSingleMetric(NAME) as Counter<'stage' | 'reason'> | undefined) ??
    new Counter({
      name: NAME,
      help: 'Requests shed before any work because the service or a stage behind it is behind, by stage and reason',
      labelNames: ['stage', 'reason'],
      registers: [registry],
    })
  );
}
