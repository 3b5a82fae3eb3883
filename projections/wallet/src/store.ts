import { columns, qualified, type ProjectionContext, type Queryable } from '@sluice/projection-kit';
import type { WalletEvent } from '@sluice/schemas';
import { foldWallets, type WalletFoldResult, type WalletView } from './fold';

const TABLE = 'wallet_balances';

/** A wallet as readers get it: the view plus what PostgreSQL computes and stamps. */
export interface WalletRecord extends WalletView {
  /** balance - held. */
  readonly available: number;
  /** When the projector wrote the row; projectedAt − updatedAt is the projection delay. */
  readonly projectedAt: Date;
}

interface WalletRow {
  wallet_id: string;
  currency: string;
  owner: string | null;
  balance: string;
  held: string;
  available: string;
  version: number;
  opened_at: Date;
  updated_at: Date;
  last_event_id: string;
  projected_at: Date;
}

function toRecord(r: WalletRow): WalletRecord {
  return {
    walletId: r.wallet_id,
    currency: r.currency,
    owner: r.owner ?? null,
    balance: Number(r.balance),
    held: Number(r.held),
    available: Number(r.available),
    version: r.version,
    openedAt: r.opened_at,
    updatedAt: r.updated_at,
    lastEventId: r.last_event_id,
    projectedAt: r.projected_at,
  };
}

export async function loadWalletViews(ctx: ProjectionContext, walletIds: readonly string[]): Promise<Map<string, WalletView>> {
  const views = new Map<string, WalletView>();
  if (walletIds.length === 0) return views;
  const { rows } = await ctx.db.query<WalletRow>(
    `SELECT * FROM ${qualified(ctx.schema, TABLE)} WHERE wallet_id = ANY($1::uuid[])`,
    [[...new Set(walletIds)]],
  );
  for (const r of rows) {
    const { available: _a, projectedAt: _p, ...view } = toRecord(r);
    views.set(view.walletId, view);
  }
  return views;
}

const UPSERT_COLUMNS = [
  'walletId',
  'currency',
  'balance',
  'held',
  'version',
  'openedAt',
  'updatedAt',
  'lastEventId',
  'owner',
] as const;

/**
 * Multi-row upsert through unnest: one statement and nine array parameters
 * whatever the batch size. The version condition keeps a row from ever moving
 * back should two writers race (the engine's checkpoint lock already
 * serialises each partition, and a wallet lives on one partition).
 */
export async function upsertWalletViews(ctx: ProjectionContext, views: readonly WalletView[]): Promise<void> {
  if (views.length === 0) return;
  const table = qualified(ctx.schema, TABLE);
  await ctx.db.query(
    `INSERT INTO ${table} AS t (wallet_id, currency, balance, held, version, opened_at, updated_at, last_event_id, owner, projected_at)
     SELECT w.*, now() FROM unnest($1::uuid[], $2::char(3)[], $3::int8[], $4::int8[], $5::int4[], $6::timestamptz[], $7::timestamptz[], $8::uuid[], $9::varchar[]) AS w
     ON CONFLICT (wallet_id) DO UPDATE SET
       currency = excluded.currency, owner = excluded.owner, balance = excluded.balance, held = excluded.held, version = excluded.version,
       opened_at = excluded.opened_at, updated_at = excluded.updated_at, last_event_id = excluded.last_event_id,
       projected_at = excluded.projected_at
     WHERE excluded.version > t.version`,
    columns(views, UPSERT_COLUMNS),
  );
}

/**
 * Projects one partition's events, in offset order, inside the engine's
 * transaction: load the rows they touch, fold, upsert what changed. Returns
 * one result per event.
 */
export async function projectWalletEvents(ctx: ProjectionContext, events: readonly WalletEvent[]): Promise<WalletFoldResult[]> {
  const { results, changed } = foldWallets(
    await loadWalletViews(
      ctx,
      events.map((e) => e.data.walletId),
    ),
    events,
  );
  await upsertWalletViews(ctx, changed);
  return results;
}

/** Reads the live version through its view in public. */
export async function findWallet(db: Queryable, walletId: string): Promise<WalletRecord | undefined> {
  const { rows } = await db.query<WalletRow>(`SELECT * FROM ${qualified('public', TABLE)} WHERE wallet_id = $1`, [walletId]);
  return rows[0] && toRecord(rows[0]);
}

/**
 * Balances of the live version in wallet id order, the `limit` after
 * `afterWalletId` (from the first when undefined): a keyset page, for walking
 * every wallet (the invariant check compares them with the command side's).
 */
export async function walletBalancesPage(
  db: Queryable,
  afterWalletId: string | undefined,
  limit: number,
): Promise<{ walletId: string; balance: number; held: number }[]> {
  const { rows } = await db.query<{ wallet_id: string; balance: string; held: string }>(
    `SELECT wallet_id, balance::text, held::text FROM ${qualified('public', TABLE)}
     WHERE $1::uuid IS NULL OR wallet_id > $1::uuid ORDER BY wallet_id LIMIT $2`,
    [afterWalletId ?? null, limit],
  );
  return rows.map((r) => ({ walletId: r.wallet_id, balance: Number(r.balance), held: Number(r.held) }));
}
