import { bigint, integer, pgTable, primaryKey, timestamp, varchar } from 'drizzle-orm/pg-core';

/**
 * Where each consumer group stands on each partition, written in the same
 * transaction as the read-model rows it covers: the read model and its
 * position can never disagree, whatever Kafka's committed offsets say.
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
