import type { Kafka } from 'kafkajs';
import { toInboundRecord } from './kafka-adapter';
import { DLQ_HEADERS, headerText } from './headers';
import type { InboundRecord, OutboundMessage } from './ports';

/** A record of a dead-letter topic, with what its dlq.* headers say. */
export interface DeadLetterRecord {
  readonly record: InboundRecord;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly group: string | undefined;
  readonly original: { readonly topic: string; readonly partition: number; readonly offset: string } | undefined;
  readonly failedAt: string | undefined;
  /** Set on a projector's dead letters, which `sluice dlq redrive <id>` re-drives from its parked copy. */
  readonly projection: string | undefined;
}

/** Dead-letter topics are named <group>.dlq (deadLetterTopic) or configured to end in .dlq/_dlq/-dlq. */
export function isDeadLetterTopic(name: string): boolean {
  return /[._-]dlq$/i.test(name);
}

export function parseDeadLetter(record: InboundRecord): DeadLetterRecord {
  const topic = headerText(record, DLQ_HEADERS.topic);
  const partition = Number(headerText(record, DLQ_HEADERS.partition));
  const offset = headerText(record, DLQ_HEADERS.offset);
  return {
    record,
    code: headerText(record, DLQ_HEADERS.code) ?? 'unknown',
    reason: headerText(record, DLQ_HEADERS.reason) ?? '',
    attempts: Number(headerText(record, DLQ_HEADERS.attempts) ?? 1),
    group: headerText(record, DLQ_HEADERS.group),
    original:
      topic !== undefined && Number.isInteger(partition) && offset !== undefined ? { topic, partition, offset } : undefined,
    failedAt: headerText(record, DLQ_HEADERS.failedAt),
    projection: headerText(record, DLQ_HEADERS.projection),
  };
}

/**
 * The record to send back to the original topic: the original key, value
 * and headers (without the dlq.* ones), on the original partition so it
 * stays in order with its key, marked with where it was re-driven from.
 */
export function redriveMessage(letter: DeadLetterRecord): { topic: string; message: OutboundMessage } {
  if (!letter.original)
    throw new Error(`record ${letter.record.partition}:${letter.record.offset} carries no dlq.original.* headers`);
  const headers: Record<string, Buffer[]> = {};
  for (const [name, values] of Object.entries(letter.record.headers)) {
    if (!name.startsWith('dlq.')) headers[name] = [...values];
  }
  headers[DLQ_HEADERS.redrivenFrom] = [Buffer.from(`${letter.record.topic}/${letter.record.partition}/${letter.record.offset}`)];
  return {
    topic: letter.original.topic,
    message: { key: letter.record.key, value: letter.record.value, headers, partition: letter.original.partition },
  };
}

/** Every dead-letter topic of the cluster, with how many records each holds. */
export async function listDeadLetterTopics(kafka: Kafka): Promise<{ topic: string; records: number }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(isDeadLetterTopic).sort();
    const out: { topic: string; records: number }[] = [];
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      out.push({ topic, records: offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0) });
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a topic from its start (or `from`, per partition) up to its end as
 * it is when called; no consumer group is joined or committed.
 */
export async function readDeadLetters(
  kafka: Kafka,
  topic: string,
  options: { from?: ReadonlyMap<number, string>; timeoutMs?: number } = {},
): Promise<DeadLetterRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, { low: bigint; high: bigint }>;
  try {
    ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { low: BigInt(p.low), high: BigInt(p.high) }]),
    );
  } finally {
    await admin.disconnect();
  }
  const start = (p: number) => {
    const from = options.from?.get(p);
    const low = ends.get(p)!.low;
    return from !== undefined && BigInt(from) > low ? BigInt(from) : low;
  };
  const pending = new Set([...ends].filter(([p, e]) => start(p) < e.high).map(([p]) => p));
  if (pending.size === 0) return [];
  const consumer = kafka.consumer({ groupId: `sluice-dlq-reader-${process.pid}-${Date.now()}`, allowAutoTopicCreation: false });
  const out: DeadLetterRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${topic} took longer than ${options.timeoutMs ?? 30_000} ms`)),
        options.timeoutMs ?? 30_000,
      );
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const p of ends.keys()) consumer.seek({ topic, partition: p, offset: String(start(p)) });
      });
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition)!.high;
          if (!pending.has(partition) || BigInt(message.offset) < start(partition) || BigInt(message.offset) >= end) return;
          out.push(parseDeadLetter(toInboundRecord(topic, partition, message)));
          if (BigInt(message.offset) + 1n >= end) pending.delete(partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.record.partition - b.record.partition || Number(BigInt(a.record.offset) - BigInt(b.record.offset)));
}
