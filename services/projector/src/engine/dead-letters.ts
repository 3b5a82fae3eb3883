import type { Message, Producer } from 'kafkajs';
import { deadLetterHeaders, deadLetterTopic, DLQ_HEADERS } from '@sluice/messaging';
import type { RawRecord } from './records';

/** The platform's one dead-letter header scheme (libs/messaging); the projector's letters add their projection. */
export { DLQ_HEADERS, deadLetterTopic };

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

/**
 * The original key, value and headers, unchanged, plus what failed and where
 * it came from. The original coordinates identify a dead letter: the same
 * record published twice (a crash between publishing and committing the
 * batch) carries the same topic, partition and offset.
 */
export function deadLetterMessage(letter: DeadLetter, groupId: string, now: Date): Message {
  const { raw } = letter;
  const headers = deadLetterHeaders(
    { ...raw, topic: letter.topic, partition: letter.partition, offset: raw.offset.toString() },
    {
      code: letter.code,
      reason: letter.reason,
      attempts: letter.attempts,
      group: groupId,
      extra: { [DLQ_HEADERS.projection]: letter.projection, [DLQ_HEADERS.version]: String(letter.version) },
    },
    now,
  );
  return { key: raw.key, value: raw.value, headers };
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
