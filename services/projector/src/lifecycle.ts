import { hoursToMs } from '@sluice/config';
import { startServicePurge, type PurgeSpec, type RetentionPurge } from '@sluice/db';
import type { Logger } from '@sluice/observability';
import type { Registry } from 'prom-client';
import type { ProjectorConfig } from './config';

/**
 * Parked records once resolved (redriven or discarded) only tell what
 * happened; dead and held ones stay until someone resolves them
 * (docs/data-lifecycle.md).
 */
export function projectorPurges(config: Pick<ProjectorConfig, 'PARKED_RETENTION_HOURS'>): PurgeSpec[] {
  return [
    {
      table: 'projection_parked',
      timeColumn: 'resolved_at',
      finished: "state = 'resolved'",
      windowMs: hoursToMs(config.PARKED_RETENTION_HOURS),
    },
  ];
}

/** Starts the retention purge, unless PURGE_ENABLED is off. */
export const startProjectorPurge = (config: ProjectorConfig, logger: Logger, registry: Registry): RetentionPurge | undefined =>
  startServicePurge({
    service: 'projector',
    config,
    specs: projectorPurges(config),
    kept: 'resolved parked records',
    registry,
    logger,
  });
