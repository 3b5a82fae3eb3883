import type { IHeaders, Producer } from 'kafkajs';

export interface DeadLetter {
  /** The record as it arrived. */
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: IHeaders;
  /** Why it was parked: a stable code, and the words for people. */
  code: string;
  reason: string;
  attempts: number;
}

/**
 * Parks a command that cannot succeed on the dead-letter topic: the original
 * key, value and headers, plus where it came from and why (dlq-* headers).
 * Resolves only when Kafka acknowledged it (acks=all), so the caller commits
 * the original's offset after the copy is safe.
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly consumer: string,
  ) {}

  async publish(letter: DeadLetter, now: number = Date.now()): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        {
          key: letter.key,
          value: letter.value,
          headers: {
            ...letter.headers,
            'dlq-original-topic': letter.topic,
            'dlq-original-partition': String(letter.partition),
            'dlq-original-offset': letter.offset,
            'dlq-consumer-group': this.consumer,
            'dlq-error-code': letter.code,
            'dlq-error-reason': letter.reason.slice(0, 1_000),
            'dlq-attempts': String(letter.attempts),
            'dlq-at': new Date(now).toISOString(),
          },
        },
      ],
    });
  }
}
