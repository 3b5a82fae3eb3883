import type { Message, Producer } from 'kafkajs';
import type { RawRecord } from './records';

/** Headers a dead letter carries besides the original record's own. */
export const DLQ_HEADERS = {
  code: 'dlq.error.code',
  reason: 'dlq.error.reason',
  attempts: 'dlq.attempts',
  topic: 'dlq.original.topic',
  partition: 'dlq.original.partition',
  offset: 'dlq.original.offset',
  timestamp: 'dlq.original.timestamp',
  group: 'dlq.consumer.group',
  projection: 'dlq.projection',
  version: 'dlq.projection.version',
  failedAt: 'dlq.failed.at',
} as const;

export interface DeadLetter {
  readonly raw: RawRecord;
  readonly topic: string;
  readonly partition: number;
  readonly projection: string;
  readonly version: number;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
}

/** The dead-letter topic of a consumer group. */
export function deadLetterTopic(groupId: string): string {
  return `${groupId}.dlq`;
}

/**
 * The original key, value and headers, unchanged, plus what failed and where
 * it came from. The original coordinates identify a dead letter: the same
 * record published twice (a crash between publishing and committing the
 * batch) carries the same topic, partition and offset.
 */
export function deadLetterMessage(letter: DeadLetter, groupId: string, now: Date): Message {
  const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const [name, values] of Object.entries(letter.raw.headers)) headers[name] = values.length === 1 ? values[0]! : values;
  Object.assign(headers, {
    [DLQ_HEADERS.code]: letter.code,
    [DLQ_HEADERS.reason]: letter.reason.slice(0, 1_000),
    [DLQ_HEADERS.attempts]: String(letter.attempts),
    [DLQ_HEADERS.topic]: letter.topic,
    [DLQ_HEADERS.partition]: String(letter.partition),
    [DLQ_HEADERS.offset]: letter.raw.offset.toString(),
    [DLQ_HEADERS.group]: groupId,
    [DLQ_HEADERS.projection]: letter.projection,
    [DLQ_HEADERS.version]: String(letter.version),
    [DLQ_HEADERS.failedAt]: now.toISOString(),
    ...(letter.raw.timestamp && { [DLQ_HEADERS.timestamp]: String(letter.raw.timestamp.getTime()) }),
  });
  return { key: letter.raw.key, value: letter.raw.value, headers };
}

/**
 * Publishes dead letters of one consumer group before the batch that parks
 * them commits: once a checkpoint has moved past a record, its dead letter is
 * on the topic (at least once; see deadLetterMessage for telling repeats).
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly groupId: string,
    readonly topic: string = deadLetterTopic(groupId),
    private readonly clock: () => number = Date.now,
  ) {}

  async publish(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const now = new Date(this.clock());
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l) => deadLetterMessage(l, this.groupId, now)),
    });
  }
}
