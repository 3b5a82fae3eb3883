import { columns, qualified, type ProjectionContext, type Queryable } from '@sluice/projection-kit';
import type { WithdrawalState, WithdrawalView } from './fold';

const TABLE = 'withdrawal_status';

interface Row {
  withdrawal_id: string;
  wallet_id: string;
  amount: string;
  currency: string;
  state: string;
  provider: string | null;
  provider_reference: string | null;
  failure_reason: string | null;
  failure_detail: string | null;
  requested_at: Date;
  updated_at: Date;
  version: number;
  last_event_id: string;
  projected_at: Date;
}

export interface WithdrawalRecord extends WithdrawalView {
  readonly projectedAt: Date;
}

function toRecord(r: Row): WithdrawalRecord {
  return {
    withdrawalId: r.withdrawal_id,
    walletId: r.wallet_id,
    amount: Number(r.amount),
    currency: r.currency,
    state: r.state as WithdrawalState,
    provider: r.provider,
    providerReference: r.provider_reference,
    failureReason: r.failure_reason,
    failureDetail: r.failure_detail,
    requestedAt: r.requested_at,
    updatedAt: r.updated_at,
    version: r.version,
    lastEventId: r.last_event_id,
    projectedAt: r.projected_at,
  };
}

export async function loadWithdrawalViews(ctx: ProjectionContext, ids: readonly string[]): Promise<Map<string, WithdrawalView>> {
  const views = new Map<string, WithdrawalView>();
  if (ids.length === 0) return views;
  const { rows } = await ctx.db.query<Row>(
    `SELECT * FROM ${qualified(ctx.schema, TABLE)} WHERE withdrawal_id = ANY($1::uuid[])`,
    [[...new Set(ids)]],
  );
  for (const r of rows) {
    const { projectedAt: _, ...view } = toRecord(r);
    views.set(view.withdrawalId, view);
  }
  return views;
}

const UPSERT_COLUMNS = [
  'withdrawalId',
  'walletId',
  'amount',
  'currency',
  'state',
  'provider',
  'providerReference',
  'failureReason',
  'failureDetail',
  'requestedAt',
  'updatedAt',
  'version',
  'lastEventId',
] as const;

/** Multi-row upsert through unnest; a row never moves back to an older wallet version. */
export async function upsertWithdrawalViews(ctx: ProjectionContext, views: readonly WithdrawalView[]): Promise<void> {
  if (views.length === 0) return;
  await ctx.db.query(
    `INSERT INTO ${qualified(ctx.schema, TABLE)} AS t
       (withdrawal_id, wallet_id, amount, currency, state, provider, provider_reference, failure_reason, failure_detail,
        requested_at, updated_at, version, last_event_id, projected_at)
     SELECT w.*, now() FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::char(3)[], $5::varchar[], $6::varchar[], $7::varchar[],
       $8::varchar[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::int4[], $13::uuid[]) AS w
     ON CONFLICT (withdrawal_id) DO UPDATE SET
       state = excluded.state, provider = excluded.provider, provider_reference = excluded.provider_reference,
       failure_reason = excluded.failure_reason, failure_detail = excluded.failure_detail, updated_at = excluded.updated_at,
       version = excluded.version, last_event_id = excluded.last_event_id, projected_at = excluded.projected_at
     WHERE excluded.version > t.version`,
    columns(views, UPSERT_COLUMNS),
  );
}

/** Reads the live version through its view in public. */
export async function findWithdrawal(db: Queryable, withdrawalId: string): Promise<WithdrawalRecord | undefined> {
  const { rows } = await db.query<Row>(`SELECT * FROM ${qualified('public', TABLE)} WHERE withdrawal_id = $1`, [withdrawalId]);
  return rows[0] && toRecord(rows[0]);
}
