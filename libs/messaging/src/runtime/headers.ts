import type { InboundRecord } from './ports';

/**
 * The one header scheme of every dead-letter topic: the original record's
 * key, value and headers unchanged, plus these. The original coordinates
 * identify a dead letter: the same record parked twice (a crash between
 * publishing and committing) carries the same topic, partition and offset.
 */
export const DLQ_HEADERS = {
  code: 'dlq.error.code',
  reason: 'dlq.error.reason',
  attempts: 'dlq.attempts',
  topic: 'dlq.original.topic',
  partition: 'dlq.original.partition',
  offset: 'dlq.original.offset',
  timestamp: 'dlq.original.timestamp',
  group: 'dlq.consumer.group',
  failedAt: 'dlq.failed.at',
  /** Projector only: which projection version parked it. */
  projection: 'dlq.projection',
  version: 'dlq.projection.version',
  /** Set on a record sent back to its topic by `sluice dlq redrive`: the dead letter it came from. */
  redrivenFrom: 'dlq.redriven.from',
} as const;

/** The header of the event type, which the relay copies from the outbox row (filter by type before decoding). */
export const TYPE_HEADER = 'type';

/** The dead-letter topic of a consumer group, unless configured otherwise. */
export function deadLetterTopic(groupId: string): string {
  return `${groupId}.dlq`;
}

/**
 * Stamped by the outbox relay on each record: when it sent it (Unix ms, decimal). Consumers
 * measure published → applied from it; records Debezium (or a relay with it off) wrote lack it.
 */
export const PUBLISHED_AT_HEADER = 'sluice-published-ms';

export function headerText(record: Pick<InboundRecord, 'headers'>, name: string): string | undefined {
  return record.headers[name]?.[0]?.toString('utf8');
}

export interface DeadLetterInfo {
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly group: string;
  readonly extra?: Readonly<Record<string, string>>;
}

/** The headers a dead letter carries: the original's, then the dlq.* ones (which replace any the original had). */
export function deadLetterHeaders(
  record: InboundRecord,
  info: DeadLetterInfo,
  now: Date,
): Record<string, Buffer | string | (Buffer | string)[]> {
  const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const [name, values] of Object.entries(record.headers)) {
    if (name.startsWith('dlq.') && name !== DLQ_HEADERS.redrivenFrom) continue;
    headers[name] = values.length === 1 ? values[0]! : [...values];
  }
  Object.assign(headers, {
    [DLQ_HEADERS.code]: info.code,
    [DLQ_HEADERS.reason]: info.reason.slice(0, 1_000),
    [DLQ_HEADERS.attempts]: String(info.attempts),
    [DLQ_HEADERS.topic]: record.topic,
    [DLQ_HEADERS.partition]: String(record.partition),
    [DLQ_HEADERS.offset]: record.offset,
    [DLQ_HEADERS.group]: info.group,
    [DLQ_HEADERS.failedAt]: now.toISOString(),
    ...(record.timestamp && { [DLQ_HEADERS.timestamp]: String(record.timestamp.getTime()) }),
    ...info.extra,
  });
  return headers;
}
