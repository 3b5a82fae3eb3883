import type { CheckpointAdvance } from '../store/checkpoints';
import type { ParkedInsert } from '../store/parked';
import type { DeadLetter } from './dead-letters';
import type { StepRecord } from './projection-step';
import type { BatchRecord } from './records';
import type { Target } from './targets';

/** What a target's applied records leave behind on a partition, written in the same transaction. */
export interface Leftovers {
  /** Its checkpoint, moved past the batch. */
  advance: CheckpointAdvance;
  /** Records parked: dead, or held behind a dead record of their key. */
  parks: ParkedInsert[];
  /** The dead ones, for the dead-letter topic. */
  letters: DeadLetter[];
}

/**
 * What a target's applied records leave behind on a partition: its checkpoint's advance, parked
 * records, dead letters. `fresh` are the records the step was given (not empty), `records` what
 * the step made of them.
 */
export function leftovers(
  where: { topic: string; groupId: string; partition: number },
  target: Target,
  fresh: readonly BatchRecord[],
  records: readonly StepRecord[],
  highWatermark: bigint,
): Leftovers {
  const { topic, partition } = where;
  const lastFresh = fresh.at(-1)!;
  const next = lastFresh.raw.offset + 1n;
  const advance = {
    projection: target.projection,
    version: target.version,
    partition,
    nextOffset: next,
    lagRecords: Number(highWatermark > next ? highWatermark - next : 0n),
    lastRecordAt: lastFresh.raw.timestamp,
  };
  const parks: ParkedInsert[] = [];
  const letters: DeadLetter[] = [];
  for (const r of records) {
    const park = parkOf(where, target, r);
    if (!park) continue;
    parks.push(park);
    if (park.state === 'dead')
      letters.push({
        raw: r.record.raw,
        topic,
        partition,
        projection: target.projection,
        version: target.version,
        code: park.code,
        reason: park.reason,
        attempts: park.attempts,
      });
  }
  return { advance, parks, letters };
}

function parkOf(
  { topic, groupId, partition }: { topic: string; groupId: string; partition: number },
  target: Target,
  r: StepRecord,
): ParkedInsert | undefined {
  const { verdict } = r;
  if (verdict.kind !== 'dead' && verdict.kind !== 'held') return undefined;
  const key = r.record.key;
  return {
    projection: target.projection,
    version: target.version,
    consumerGroup: groupId,
    topic,
    partition,
    raw: r.record.raw,
    key,
    eventType: r.eventType,
    aggregateVersion: r.aggregateVersion,
    state: verdict.kind,
    code: verdict.kind === 'dead' ? verdict.code : 'held',
    reason: verdict.kind === 'dead' ? verdict.detail : `held behind a dead record of key ${key ?? '(none)'}`,
    attempts: verdict.kind === 'dead' ? verdict.attempts : 0,
  };
}
