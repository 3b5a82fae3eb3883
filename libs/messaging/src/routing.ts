/**
 * Topic routing as Debezium's Outbox Event Router does it: the aggregate type
 * replaces ${routedByValue} in the pattern (route.topic.replacement).
 */
export const DEFAULT_TOPIC_PATTERN = 'outbox.event.${routedByValue}';

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function routeTopic(pattern: string, aggregateType: string): string {
  const topic = pattern.split('${routedByValue}').join(aggregateType);
  if (!TOPIC_NAME.test(topic)) throw new RangeError(`"${topic}" is not a legal Kafka topic name`);
  return topic;
}

/** Subject under TopicRecordNameStrategy: one topic carries several record types. */
export function subjectFor(topic: string, recordFullName: string): string {
  return `${topic}-${recordFullName}`;
}
