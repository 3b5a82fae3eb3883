import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../engine/projection';
import { projectorCheckpoints as cp } from './table';

export interface PartitionKey {
  consumerGroup: string;
  topic: string;
  partition: number;
}

/**
 * Takes the partition's checkpoint row lock for the rest of the transaction
 * and returns the stored next offset (0 for a partition never seen). Two
 * consumers handed the same partition around a rebalance queue here, and the
 * second sees what the first committed.
 */
export async function lockCheckpoint(db: Db, key: PartitionKey): Promise<bigint> {
  // Insert first, so even a partition's very first batch has a row to lock.
  await db
    .insert(cp)
    .values({ ...key, nextOffset: 0n })
    .onConflictDoNothing();
  const [row] = await db
    .select({ nextOffset: cp.nextOffset })
    .from(cp)
    .where(and(eq(cp.consumerGroup, key.consumerGroup), eq(cp.topic, key.topic), eq(cp.partition, key.partition)))
    .for('update');
  if (!row) throw new Error(`checkpoint row for ${key.topic}[${key.partition}] vanished under its lock`);
  return row.nextOffset;
}

export async function advanceCheckpoint(db: Db, key: PartitionKey, nextOffset: bigint): Promise<void> {
  await db
    .update(cp)
    .set({ nextOffset, updatedAt: sql`now()` })
    .where(and(eq(cp.consumerGroup, key.consumerGroup), eq(cp.topic, key.topic), eq(cp.partition, key.partition)));
}

/** The stored next offsets of the given partitions; partitions never seen are absent. */
export async function loadCheckpoints(
  db: Db,
  consumerGroup: string,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, bigint>> {
  if (partitions.length === 0) return new Map();
  const rows = await db
    .select({ partition: cp.partition, nextOffset: cp.nextOffset })
    .from(cp)
    .where(and(eq(cp.consumerGroup, consumerGroup), eq(cp.topic, topic), inArray(cp.partition, [...partitions])));
  return new Map(rows.map((r) => [r.partition, r.nextOffset]));
}
