import type { Admin } from 'kafkajs';
import { SluiceError } from '@sluice/core';
import { partitionForKey, routeTopic } from '@sluice/messaging';

export class RoutingError extends SluiceError<'topic_missing'> {}

/**
 * Where an outbox record goes: the topic from its aggregate type, the partition
 * from its key with the Java client's murmur2, over the topic's partition count.
 */
export class TopicRouter {
  private readonly partitions = new Map<string, number>();
  private readonly topics = new Map<string, string>();

  constructor(
    private readonly admin: Admin,
    private readonly pattern: string,
  ) {}

  topicOf(aggregateType: string): string {
    let topic = this.topics.get(aggregateType);
    if (topic === undefined) this.topics.set(aggregateType, (topic = routeTopic(this.pattern, aggregateType)));
    return topic;
  }

  /** Learns the partition counts of these topics; a missing topic is an error the operator fixes. */
  async prepare(topics: Iterable<string>): Promise<void> {
    const unknown = [...new Set(topics)].filter((t) => !this.partitions.has(t));
    if (unknown.length === 0) return;
    const existing = new Set(await this.admin.listTopics());
    const missing = unknown.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new RoutingError(
        'topic_missing',
        `topic(s) ${missing.join(', ')} do not exist; create them with \`npm run sluice -- topics apply\``,
        {
          retriable: true,
        },
      );
    }
    const meta = await this.admin.fetchTopicMetadata({ topics: unknown });
    for (const t of meta.topics) this.partitions.set(t.name, t.partitions.length);
  }

  partitionOf(topic: string, key: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new Error(`partition count of ${topic} unknown; call prepare() first`);
    return partitionForKey(key, n);
  }

  forget(): void {
    this.partitions.clear();
  }
}
