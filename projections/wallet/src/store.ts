import { inArray, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { WalletEvent } from '@sluice/schemas';
import { foldWallets, type WalletFoldResult, type WalletView } from './fold';
import { walletBalances } from './table';

/** A drizzle handle on one connection, inside the caller's transaction. */
export type Db = NodePgDatabase<Record<string, unknown>>;

/** Rows per INSERT: 8 columns each keeps a statement far below PostgreSQL's 65535 parameters. */
const UPSERT_CHUNK = 1_000;

export async function loadWalletViews(db: Db, walletIds: readonly string[]): Promise<Map<string, WalletView>> {
  const views = new Map<string, WalletView>();
  if (walletIds.length === 0) return views;
  const rows = await db
    .select()
    .from(walletBalances)
    .where(inArray(walletBalances.walletId, [...new Set(walletIds)]));
  for (const { projectedAt: _, ...view } of rows) views.set(view.walletId, view);
  return views;
}

/**
 * Multi-row upsert. The version condition keeps a row from ever moving back
 * should two writers race (the projector's checkpoint lock already serialises
 * each partition, and a wallet lives on one partition).
 */
export async function upsertWalletViews(db: Db, views: readonly WalletView[]): Promise<void> {
  for (let i = 0; i < views.length; i += UPSERT_CHUNK) {
    await db
      .insert(walletBalances)
      .values(views.slice(i, i + UPSERT_CHUNK).map((v) => ({ ...v, projectedAt: sql`now()` })))
      .onConflictDoUpdate({
        target: walletBalances.walletId,
        set: {
          currency: sql`excluded.currency`,
          balance: sql`excluded.balance`,
          held: sql`excluded.held`,
          version: sql`excluded.version`,
          openedAt: sql`excluded.opened_at`,
          updatedAt: sql`excluded.updated_at`,
          lastEventId: sql`excluded.last_event_id`,
          projectedAt: sql`excluded.projected_at`,
        },
        setWhere: sql`excluded.version > ${walletBalances.version}`,
      });
  }
}

/**
 * Projects one partition's events, in offset order, inside the caller's
 * transaction: load the rows they touch, fold, upsert what changed. Returns
 * one result per event.
 */
export async function projectWalletEvents(db: Db, events: readonly WalletEvent[]): Promise<WalletFoldResult[]> {
  const walletIds = events.map((e) => e.data.walletId);
  const { results, changed } = foldWallets(await loadWalletViews(db, walletIds), events);
  await upsertWalletViews(db, changed);
  return results;
}

export async function findWalletView(db: Db, walletId: string): Promise<WalletView | undefined> {
  const views = await loadWalletViews(db, [walletId]);
  return views.get(walletId);
}
