import { z } from 'zod';

const HOUR_MS = 3_600_000;

/** Retention windows are configured in whole hours: days and weeks read plainly, and none is shorter than an hour. */
export const retentionHours = (def: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(10 * 365 * 24)
    .default(def);

export const hoursToMs = (hours: number): number => hours * HOUR_MS;

/**
 * The retention purge (libs/db Purger) of a service that owns tables which
 * would otherwise grow for ever; each service names its tables and windows
 * beside these (docs/data-lifecycle.md).
 */
export const purgeEnv = {
  /** Delete rows past their retention window; off, the service's purged tables grow for ever (a warning at start-up says so). */
  PURGE_ENABLED: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default('true')
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** Between the end of one round over the service's tables and the next. */
  PURGE_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(300_000),
  /** Rows one batch (one short transaction) deletes at most. */
  PURGE_BATCH_ROWS: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Rest between batches: a backlog drains as a trickle beside the hot path. */
  PURGE_BATCH_PAUSE_MS: z.coerce.number().int().min(0).max(60_000).default(100),
  /** A batch gives up after waiting this long for a table lock (a migration's), rather than queue others behind it. */
  PURGE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(200),
  /** A batch slower than this is cancelled and its row locks released. */
  PURGE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
};

type PurgeConfig = { [K in keyof typeof purgeEnv]: z.infer<(typeof purgeEnv)[K]> };

/** Add with `.refine(...purgeTimeoutsOrdered)`: a lock wait is one part of a statement. */
export const purgeTimeoutsOrdered = [
  (c: Pick<PurgeConfig, 'PURGE_LOCK_TIMEOUT_MS' | 'PURGE_STATEMENT_TIMEOUT_MS'>) =>
    c.PURGE_LOCK_TIMEOUT_MS < c.PURGE_STATEMENT_TIMEOUT_MS,
  { message: 'PURGE_LOCK_TIMEOUT_MS must be shorter than PURGE_STATEMENT_TIMEOUT_MS' },
] as const;
