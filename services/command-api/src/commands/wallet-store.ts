import type { PoolClient } from 'pg';
import { initialWalletState, type WalletState, type WithdrawalStatus } from '@sluice/wallet-domain';
import type { IdempotencyClaim } from '../idempotency/idempotency';

/*
 * The command side's tables, written with hand-written SQL as prepared
 * statements. Commands run in batches (see CommitGroups), one transaction
 * per batch of two statements: load (claims and wallets of the whole batch);
 * write (state, child rows, stored responses and outbox rows of the whole
 * batch). The command pool is pipelined: BEGIN goes out with the load, and
 * COMMIT (which carries the outbox's delete) with the write, so a batch, of
 * one deposit or of sixteen, costs two round trips. The tables are declared
 * for migrations in ../db/schema.ts. This file holds the load; the write is
 * built in wallet-save.ts.
 */

/** What one command of a batch loads: its wallet, the withdrawals it touches and, with a key, its idempotency claim. */
export interface LoadRequest {
  walletId: string;
  withdrawalIds: readonly string[];
  claim?: IdempotencyClaim;
}

export interface Loaded {
  state: WalletState;
  /** The wallet's owner (null: none recorded, or no wallet). */
  owner: string | null;
  /** With an idempotency claim: false when the key was used before (the caller replays). */
  claimed: boolean;
}

interface LoadRow {
  claimed: boolean;
  id: string | null;
  currency: string | null;
  balance: string | null;
  held: string | null;
  version: number | null;
  owner: string | null;
}

/**
 * Claims the batch's Idempotency-Keys (in key order, so two batches wanting
 * the same keys wait for each other instead of deadlocking) and reads their
 * wallets: one statement, the same text for any batch size, one row per
 * command in the batch's order. A concurrent transaction holding one of the
 * keys makes the insert wait until it commits (then that command replays) or
 * rolls back (then the key is claimed here).
 */
const CLAIM_AND_LOAD = `WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS i(wallet_id, client_id, key, fingerprint, n)
  ), claim AS (
    INSERT INTO idempotency_keys (client_id, key, fingerprint, status_code, response_body, response_headers)
    SELECT client_id, key, fingerprint, 0, '', '{}'::jsonb FROM input WHERE key IS NOT NULL ORDER BY client_id, key
    ON CONFLICT (client_id, key) DO NOTHING RETURNING client_id, key
  )
  SELECT i.key IS NULL OR EXISTS (SELECT 1 FROM claim c WHERE c.client_id = i.client_id AND c.key = i.key) AS claimed,
         w.id, w.currency, w.balance::text, w.held::text, w.version, w.owner
    FROM input i LEFT JOIN wallets w ON w.id = i.wallet_id ORDER BY i.n`;

/**
 * Loads the wallets of a batch of commands with the withdrawals they touch
 * (none for deposits, so a batch of deposits reads once), claiming their
 * idempotency keys in the same statement. The wallets must be distinct.
 */
export async function loadWallets(client: PoolClient, requests: readonly LoadRequest[]): Promise<Loaded[]> {
  const { rows } = await client.query<LoadRow>({
    name: 'sluice_claim_load_wallets',
    text: CLAIM_AND_LOAD,
    values: [
      requests.map((r) => r.walletId),
      requests.map((r) => r.claim?.clientId ?? null),
      requests.map((r) => r.claim?.key ?? null),
      requests.map((r) => r.claim?.fingerprint ?? null),
    ],
  });
  const withdrawalIds = requests.flatMap((r) => r.withdrawalIds);
  const withdrawals =
    withdrawalIds.length === 0
      ? []
      : (
          await client.query<{ wallet_id: string; id: string; amount: string; status: WithdrawalStatus }>({
            name: 'sluice_load_withdrawals',
            text: 'SELECT wallet_id, id, amount::text, status FROM withdrawals WHERE id = ANY($1::uuid[])',
            values: [withdrawalIds],
          })
        ).rows;
  return requests.map((r, i) => {
    const row = rows[i]!;
    if (!row.claimed || row.id === null) return { state: initialWalletState, claimed: row.claimed, owner: null };
    const wanted = new Set(r.withdrawalIds.map((id) => id.toLowerCase()));
    const own = withdrawals.filter((w) => w.wallet_id === row.id && wanted.has(w.id));
    return {
      claimed: true,
      owner: row.owner,
      state: {
        status: 'open',
        walletId: row.id,
        currency: row.currency!,
        balance: Number(row.balance),
        held: Number(row.held),
        version: row.version!,
        withdrawals: new Map(own.map((w) => [w.id, { amount: Number(w.amount), status: w.status }])),
      },
    };
  });
}
