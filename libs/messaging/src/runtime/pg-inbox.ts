import { join } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '@sluice/db';
import type { Inbox } from './inbox-dedupe';

/** The inbox table (consumer, message_id), as its own migration set for any service's database. */
export const INBOX_MIGRATIONS = {
  folder: join(__dirname, '../../inbox-migrations'),
  table: '__migrations_inbox',
};

/** The inbox in PostgreSQL: one row per (consumer, message id), claimed in the handler's transaction. */
export function pgInbox(pool: Pool, consumer: string): Inbox<PoolClient> {
  return {
    transaction: (fn) => withTransaction(pool, fn),
    async claim(tx, ids) {
      if (ids.length === 0) return new Set();
      const { rows } = await tx.query<{ message_id: string }>(
        `INSERT INTO inbox (consumer, message_id, outcome_status, outcome)
         SELECT $1, id, 202, '{}' FROM unnest($2::text[]) AS id
         ON CONFLICT (consumer, message_id) DO NOTHING RETURNING message_id`,
        [consumer, ids],
      );
      return new Set(rows.map((r) => r.message_id));
    },
  };
}
