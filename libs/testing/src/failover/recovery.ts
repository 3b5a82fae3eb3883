import type { HighWatermarkSample, ProgressTimeline } from './progress-probe';
import type { AcceptedOperation } from './steady-load';

/** An event of the outbox and where the relay put it: its partition and offset on the event topic. */
export interface PublishedEvent {
  id: string;
  partition: number;
  offset: number;
  /** When its transaction began (outbox.timestamp): its commit is later. Unix ms. */
  committedAt: number;
}

export interface RecoveryInput {
  /** When the broker was killed (Unix ms). */
  killAt: number;
  /** The event topic's partitions the killed broker led: their leadership had to move. */
  movedPartitions: readonly number[];
  events: readonly PublishedEvent[];
  operations: readonly (AcceptedOperation & { partition: number })[];
  timeline: ProgressTimeline;
}

/** Milliseconds from the kill; undefined when nothing of the kind happened after it. */
export interface RecoveryTimes {
  /** Until the first event committed after the kill was in Kafka: the relay publishes again. */
  relayMs: number | undefined;
  /** Until the first deposit sent after the kill, on a moved partition, was in the read model: the projector applies again. */
  projectorMs: number | undefined;
  /** Until the first withdrawal sent after the kill, on a moved partition, had its saga: the payments worker applies again. */
  paymentsMs: number | undefined;
  /** The longest any deposit took from its request to the read model: what a client waited at worst. */
  visibleGapMs: number;
  /** The median of the same, for scale. */
  visibleP50Ms: number;
}

/** When a record at `offset` of `partition` was first seen committed (the high watermark past it), or undefined. */
export function inKafkaAt(samples: readonly HighWatermarkSample[], partition: number, offset: number): number | undefined {
  for (const s of samples) if (s.partition === partition && s.high > offset) return s.at;
  return undefined;
}

function earliest(values: Iterable<number | undefined>): number | undefined {
  let min: number | undefined;
  for (const v of values) if (v !== undefined && (min === undefined || v < min)) min = v;
  return min;
}

/**
 * Each component's recovery after a broker was killed, from what the probe saw. "Again" means
 * on work that began after the kill, so nothing already under way when the broker died is
 * mistaken for recovery; for the consumers, on the partitions whose leader died, where they
 * had to find the new leader.
 */
export function recoveryTimes(input: RecoveryInput): RecoveryTimes {
  const { killAt, timeline } = input;
  const moved = new Set(input.movedPartitions);
  const since = (at: number | undefined) => (at === undefined ? undefined : at - killAt);
  const after = input.operations.filter((o) => o.sentAt > killAt && moved.has(o.partition));
  const visible = input.operations
    .filter((o) => o.kind === 'deposit')
    .map((o) => {
      const at = timeline.applied.get(`${o.walletId}:${o.version}`);
      return at === undefined ? undefined : at - o.sentAt;
    })
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  return {
    relayMs: since(
      earliest(
        input.events.filter((e) => e.committedAt > killAt).map((e) => inKafkaAt(timeline.highWatermarks, e.partition, e.offset)),
      ),
    ),
    projectorMs: since(
      earliest(after.filter((o) => o.kind === 'deposit').map((o) => timeline.applied.get(`${o.walletId}:${o.version}`))),
    ),
    paymentsMs: since(earliest(after.filter((o) => o.kind === 'withdrawal').map((o) => timeline.sagas.get(o.id)))),
    visibleGapMs: visible.at(-1) ?? NaN,
    visibleP50Ms: visible[Math.floor((visible.length - 1) / 2)] ?? NaN,
  };
}
