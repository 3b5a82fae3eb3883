import { bigint, integer, pgTable, primaryKey, timestamp, varchar } from 'drizzle-orm/pg-core';

/**
 * Checkpoints as the projector kept them before projection versions: per
 * consumer group. No longer written; kept so that adopting the old wallet
 * table as version 1 can carry its positions over (store/versions.ts).
 */
export const projectorCheckpoints = pgTable(
  'projector_checkpoints',
  {
    consumerGroup: varchar('consumer_group', { length: 255 }).notNull(),
    topic: varchar('topic', { length: 249 }).notNull(),
    partition: integer('partition').notNull(),
    /** The offset of the next record to apply (Kafka's committed-offset convention). */
    nextOffset: bigint('next_offset', { mode: 'bigint' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.consumerGroup, t.topic, t.partition] })],
);
