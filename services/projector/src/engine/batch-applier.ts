import { drizzle } from 'drizzle-orm/node-postgres';
import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import { advanceCheckpoint, lockCheckpoint, type PartitionKey } from '../checkpoints/checkpoint-store';
import { assertNever } from './assert-never';
import type { DecodedRecord } from './decode';
import type { Projection } from './projection';

/** What became of one record at or past the stored checkpoint. */
export type RecordResult =
  | {
      readonly status: 'applied' | 'duplicate';
      readonly offset: bigint;
      readonly eventType: string;
      readonly key: string | undefined;
    }
  | {
      readonly status: 'rejected';
      readonly offset: bigint;
      readonly eventType: string;
      readonly key: string | undefined;
      readonly reason: string;
      readonly detail: string;
    }
  | { readonly status: 'ignored'; readonly offset: bigint; readonly eventType: string }
  | { readonly status: 'undecodable'; readonly offset: bigint; readonly reason: string; readonly detail: string };

export interface BatchResult {
  /** The checkpoint before this batch. */
  readonly storedOffset: bigint;
  /** The checkpoint after it; never below storedOffset. */
  readonly nextOffset: bigint;
  /** Records below the stored checkpoint: delivered again, skipped without looking. */
  readonly alreadyCheckpointed: number;
  /** One result per record at or past the stored checkpoint, in offset order. */
  readonly results: RecordResult[];
}

type EventRecord<E> = Extract<DecodedRecord<E>, { kind: 'event' }>;

/**
 * Applies one partition's batch exactly once in effect: in one transaction it
 * locks the partition's checkpoint, drops the records below it, lets the
 * projection write its rows and moves the checkpoint past the batch. A batch
 * delivered again (redelivery, rebalance, a stale Kafka offset) finds the
 * checkpoint already past it and changes nothing; a failure rolls back rows
 * and checkpoint together.
 */
export class BatchApplier<E> {
  constructor(
    private readonly pool: Pool,
    private readonly projection: Projection<E>,
  ) {}

  async apply(key: PartitionKey, records: readonly DecodedRecord<E>[]): Promise<BatchResult> {
    const last = records.at(-1);
    if (!last) throw new RangeError('apply needs at least one record');
    return withTransaction(this.pool, async (client) => {
      const db = drizzle(client);
      const storedOffset = await lockCheckpoint(db, key);
      const fresh = records.filter((r) => r.offset >= storedOffset);
      const events = fresh.filter((r): r is EventRecord<E> => r.kind === 'event');
      const outcomes = events.length === 0 ? [] : await this.projection.apply(db, events.map(eventOf));
      if (outcomes.length !== events.length) {
        throw new Error(`projection ${this.projection.name} returned ${outcomes.length} outcomes for ${events.length} events`);
      }
      const nextOffset = last.offset + 1n > storedOffset ? last.offset + 1n : storedOffset;
      if (nextOffset !== storedOffset) await advanceCheckpoint(db, key, nextOffset);
      let i = 0;
      const results = fresh.map((r): RecordResult => {
        switch (r.kind) {
          case 'event':
            return { offset: r.offset, eventType: r.eventType, key: r.key, ...outcomes[i++]! };
          case 'ignored':
            return { status: 'ignored', offset: r.offset, eventType: r.eventType };
          case 'undecodable':
            return { status: 'undecodable', offset: r.offset, reason: r.reason, detail: r.detail };
          default:
            return assertNever(r);
        }
      });
      return { storedOffset, nextOffset, alreadyCheckpointed: records.length - fresh.length, results };
    });
  }
}

function eventOf<E>(record: EventRecord<E>): E {
  return record.event;
}
