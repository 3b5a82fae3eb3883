import type { ProjectionDefinition } from '@sluice/projection-kit';
import { ProjectorEngine } from '../engine/projector-engine';
import { PinnedTarget } from '../engine/targets';
import type { ToolContext } from './context';

/**
 * A consumer that writes one pinned projection version (a rebuild or a bounded
 * replay): its own group, bulk fetch tuning, no notifications and no
 * synchronous commit (a crash re-applies from the stored positions, which the
 * same transactions wrote).
 */
export function pinnedEngine(
  ctx: ToolContext,
  def: ProjectionDefinition,
  version: number,
  mode: 'rebuild' | 'replay',
  onTargetsGone?: () => void,
): ProjectorEngine {
  const { config } = ctx;
  return new ProjectorEngine({
    kafka: ctx.kafka,
    pool: ctx.pool,
    codec: ctx.codec,
    targets: new PinnedTarget(def, version, mode),
    topic: ctx.topic,
    groupId: `${config.PROJECTOR_GROUP_ID}.${mode}.${def.name}.v${version}`,
    logger: ctx.logger,
    metrics: ctx.metrics,
    consumer: {
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: config.REBUILD_MAX_BYTES_PER_PARTITION,
      maxBytes: config.REBUILD_FETCH_MAX_BYTES,
      maxWaitTimeMs: config.REBUILD_FETCH_MAX_WAIT_MS,
      partitionsConsumedConcurrently: config.REBUILD_PARTITIONS_CONCURRENTLY,
    },
    notify: false,
    synchronousCommit: false,
    ...(onTargetsGone && { onTargetsGone }),
  });
}
