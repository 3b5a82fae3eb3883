import { env, z } from '@sluice/config';
import { projectorCommonEnv } from '../config';

/**
 * The tools' settings: the live projector's shared keys (database, brokers,
 * group, projections) plus how a rebuild or replay consumes. A rebuild reads
 * bigger fetches and commits without waiting for the WAL flush (a crash loses
 * the last commits together with their checkpoints; they are applied again).
 */
export const toolsConfig = z
  .object({
    ...projectorCommonEnv,
    LOG_LEVEL: projectorCommonEnv.LOG_LEVEL.default('warn'),
    REBUILD_PARTITIONS_CONCURRENTLY: env.int(3, 1, 64),
    REBUILD_MAX_BYTES_PER_PARTITION: env.int(4 * 1_048_576, 1_024, 64 * 1_048_576),
    REBUILD_FETCH_MAX_BYTES: env.int(32 * 1_048_576, 1_024, 256 * 1_048_576),
    REBUILD_FETCH_MAX_WAIT_MS: env.int(100, 10, 30_000),
    /** How often progress is measured, drawn and recorded, and a switch attempted once caught up. */
    REBUILD_PROGRESS_INTERVAL_MS: env.int(1_000, 100, 60_000),
    /** Records (summed over partitions) the new version may be behind the topic's end when it tries to switch. */
    REBUILD_SWITCH_LAG: env.int(0, 0),
  })
  .refine((c) => c.DB_POOL_MAX > c.REBUILD_PARTITIONS_CONCURRENTLY + 1, {
    message: 'DB_POOL_MAX must exceed REBUILD_PARTITIONS_CONCURRENTLY + 1',
  });

export type ToolsConfig = z.infer<typeof toolsConfig>;
