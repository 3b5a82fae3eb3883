import { hoursToMs } from '@sluice/config';
import { startServicePurge, type PurgeSpec, type RetentionPurge } from '@sluice/db';
import type { Logger, Registry } from '@sluice/observability';
import type { CommandApiConfig } from './config';

/** The command API's tables that would otherwise grow for ever, and how long each row stays (docs/data-lifecycle.md). */
export function commandApiPurges(config: CommandApiConfig): PurgeSpec[] {
  return [
    // Every row answers retries for its window, then goes, whatever its answer was.
    { table: 'idempotency_keys', timeColumn: 'created_at', windowMs: hoursToMs(config.IDEMPOTENCY_KEY_RETENTION_HOURS) },
    { table: 'inbox', timeColumn: 'received_at', windowMs: hoursToMs(config.INBOX_RETENTION_HOURS) },
  ];
}

/** Starts the retention purge, unless PURGE_ENABLED is off. */
export const startCommandApiPurge = (config: CommandApiConfig, logger: Logger, registry: Registry): RetentionPurge | undefined =>
  startServicePurge({
    service: 'command-api',
    config,
    specs: commandApiPurges(config),
    kept: 'idempotency keys and inbox rows',
    registry,
    logger,
  });
