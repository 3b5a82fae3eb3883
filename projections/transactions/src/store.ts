import { columns, qualified, type ProjectionContext, type Queryable } from '@sluice/projection-kit';
import type { TransactionItem, TransactionType } from './fold';

const TABLE = 'wallet_transactions';

const INSERT_COLUMNS = [
  'walletId',
  'version',
  'type',
  'amount',
  'currency',
  'balance',
  'reference',
  'eventId',
  'occurredAt',
] as const;

/**
 * Appends items in one statement. A plain INSERT, not an upsert: the version
 * guard lets each event through once, so an item that already exists means
 * exactly-once broke somewhere, and the primary key makes that fail loudly
 * (the engine parks the event) instead of hiding it.
 */
export async function insertTransactions(ctx: ProjectionContext, items: readonly TransactionItem[]): Promise<void> {
  if (items.length === 0) return;
  await ctx.db.query(
    `INSERT INTO ${qualified(ctx.schema, TABLE)}
       (wallet_id, version, type, amount, currency, balance, reference, event_id, occurred_at)
     SELECT * FROM unnest($1::uuid[], $2::int4[], $3::varchar[], $4::int8[], $5::char(3)[], $6::int8[], $7::uuid[], $8::uuid[], $9::timestamptz[])`,
    columns(items, INSERT_COLUMNS),
  );
}

export interface TransactionRecord extends TransactionItem {
  readonly projectedAt: Date;
}

interface Row {
  wallet_id: string;
  version: number;
  type: string;
  amount: string;
  currency: string;
  balance: string;
  reference: string;
  event_id: string;
  occurred_at: Date;
  projected_at: Date;
}

/**
 * A page of a wallet's history from the live version, newest first: the items
 * below `beforeVersion` (all when absent), at most `limit`, plus whether more
 * follow. Keyset pagination on the primary key: a page costs the same deep in
 * the history as at its start, and items added meanwhile never shift it.
 */
export async function readTransactions(
  db: Queryable,
  walletId: string,
  page: { beforeVersion?: number; limit: number },
): Promise<{ items: TransactionRecord[]; more: boolean }> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM ${qualified('public', TABLE)}
     WHERE wallet_id = $1 AND ($2::int4 IS NULL OR version < $2)
     ORDER BY version DESC LIMIT $3`,
    [walletId, page.beforeVersion ?? null, page.limit + 1],
  );
  const items = rows.slice(0, page.limit).map(
    (r): TransactionRecord => ({
      walletId: r.wallet_id,
      version: r.version,
      type: r.type as TransactionType,
      amount: Number(r.amount),
      currency: r.currency,
      balance: Number(r.balance),
      reference: r.reference,
      eventId: r.event_id,
      occurredAt: r.occurred_at,
      projectedAt: r.projected_at,
    }),
  );
  return { items, more: rows.length > page.limit };
}
