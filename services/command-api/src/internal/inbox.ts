import type { Pool, PoolClient } from 'pg';
import type { StoredResponse } from '../idempotency/idempotency';

/**
 * The inbox: one row per (consumer, message id) for every internal command
 * this service has handled, written in the same transaction as the command's
 * effect, or on its own when the command was refused. A redelivered command
 * finds its row and changes nothing. The table is the consumer runtime's
 * (INBOX_MIGRATIONS in @sluice/messaging), shared with every service that dedupes.
 */
export { INBOX_MIGRATIONS } from '@sluice/messaging';

export interface InboxClaim {
  /** Who consumed it: the consumer group, so two consumers of one topic keep separate inboxes. */
  consumer: string;
  /** The message's own id (the command id), the same on every redelivery. */
  messageId: string;
  /** SHA-256 of the command's canonical payload: the same id with another payload is not a redelivery. */
  payloadHash?: string;
}

/**
 * Claims the message in the caller's transaction. Undefined: this transaction
 * now owns it. Otherwise it was handled before and this is what it led to. A
 * concurrent claim of the same id waits on the primary key until the first
 * commits (then finds it) or rolls back (then claims it).
 */
export async function claimInbox(
  client: PoolClient,
  claim: InboxClaim,
  outcome?: StoredResponse,
): Promise<StoredResponse | undefined> {
  const inserted = await client.query(
    `INSERT INTO inbox (consumer, message_id, outcome_status, outcome, payload_hash) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (consumer, message_id) DO NOTHING`,
    [claim.consumer, claim.messageId, outcome?.status ?? 202, outcome?.body ?? '{}', claim.payloadHash ?? null],
  );
  if (inserted.rowCount === 1) return undefined;
  const { rows } = await client.query<{ outcome_status: number; outcome: string }>(
    'SELECT outcome_status, outcome FROM inbox WHERE consumer = $1 AND message_id = $2',
    [claim.consumer, claim.messageId],
  );
  const row = rows[0];
  if (!row) throw new Error('inbox row vanished between insert and select');
  return { status: row.outcome_status, body: row.outcome, headers: {} };
}

/**
 * Records a refused command on its own (its transaction rolled back), so a redelivery is not refused twice.
 * Resolves true when the id had a row already.
 */
export async function recordRefusal(pool: Pool, claim: InboxClaim, outcome: StoredResponse): Promise<boolean> {
  const client = await pool.connect();
  try {
    return (await claimInbox(client, claim, outcome)) !== undefined;
  } finally {
    client.release();
  }
}

/** The payload hash stored with a handled message; null when it has none (written before hashes were kept). */
export async function storedPayloadHash(pool: Pool, claim: InboxClaim): Promise<string | null> {
  const { rows } = await pool.query<{ payload_hash: string | null }>(
    'SELECT payload_hash FROM inbox WHERE consumer = $1 AND message_id = $2',
    [claim.consumer, claim.messageId],
  );
  return rows[0]?.payload_hash ?? null;
}
