import { hoursToMs } from '@sluice/config';
import { startServicePurge, type PurgeSpec, type RetentionPurge } from '@sluice/db';
import type { Logger } from '@sluice/observability';
import type { Registry } from 'prom-client';
import type { PaymentsWorkerConfig } from './config';
import { FINISHED_SAGA, PROCESSED_WEBHOOK } from './db/schema';

/**
 * The worker's tables that would otherwise grow for ever (docs/data-lifecycle.md).
 * Sagas still running, waiting for review or for the wallet's confirmation,
 * and webhooks not yet processed stay whatever their age. A resolved review
 * ends as a finished saga and goes with them.
 */
export function paymentsPurges(config: PaymentsWorkerConfig): PurgeSpec[] {
  return [
    {
      table: 'payment_sagas',
      timeColumn: 'finished_at',
      finished: FINISHED_SAGA,
      windowMs: hoursToMs(config.PAYMENT_SAGA_RETENTION_HOURS),
    },
    {
      table: 'psp_webhook_inbox',
      timeColumn: 'received_at',
      finished: PROCESSED_WEBHOOK,
      windowMs: hoursToMs(config.PSP_WEBHOOK_INBOX_RETENTION_HOURS),
    },
  ];
}

/** Starts the retention purge, unless PURGE_ENABLED is off. */
export const startPaymentsPurge = (
  config: PaymentsWorkerConfig,
  logger: Logger,
  registry: Registry,
): RetentionPurge | undefined =>
  startServicePurge({
    service: 'payments-worker',
    config,
    specs: paymentsPurges(config),
    kept: 'finished sagas and processed webhooks',
    registry,
    logger,
  });
