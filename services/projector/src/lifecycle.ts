import { hoursToMs, purgeSettingsOf } from '@sluice/config';
import { startRetentionPurge, type PurgeSpec, type RetentionPurge } from '@sluice/db';
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

/** Starts the projector's retention purge, unless PURGE_ENABLED is off. */
export function startProjectorPurge(config: ProjectorConfig, logger: Logger, registry: Registry): RetentionPurge | undefined {
  if (!config.PURGE_ENABLED) {
    logger.warn('PURGE_ENABLED is off: resolved parked records are kept for ever');
    return undefined;
  }
  return startRetentionPurge({
    url: config.DATABASE_URL,
    applicationName: 'sluice-projector-purge',
    specs: projectorPurges(config),
    settings: purgeSettingsOf(config),
    registry,
    logger: logger.child({ component: 'retention-purge' }),
  });
}
