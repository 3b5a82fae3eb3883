import { allCatalogs } from '@sluice/schemas';
import { routeTopic, type TopicSpec } from '@sluice/messaging';

/**
 * The event topics the platform needs: one per aggregate type, partitioned
 * for per-key order and parallelism, kept for ever for replay.
 */
export function eventTopics(pattern: string, partitions: number): TopicSpec[] {
  return allCatalogs.map((c) => ({ topic: routeTopic(pattern, c.aggregateType), partitions, retainForever: true }));
}
