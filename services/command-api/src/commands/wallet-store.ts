import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { WalletEvent } from '@sluice/schemas';
import { assertNever, evolve, initialWalletState, type WalletState, type WithdrawalStatus } from '@sluice/wallet-domain';
import { storeResponse, type IdempotencyClaim, type StoredResponse } from '../idempotency/idempotency';

/*
 * The command side's tables, written with hand-written SQL as named prepared
 * statements: a command is two statements (load; write state, child rows,
 * stored response and outbox rows together), so a deposit costs four round
 * trips with BEGIN and COMMIT (which carries the outbox's delete). The
 * tables are declared for migrations in ../db/schema.ts.
 */

export class VersionConflict extends Error {
  constructor(readonly walletId: string) {
    super(`wallet ${walletId} changed concurrently`);
  }
}

interface WalletRow {
  claimed?: number;
  id: string | null;
  currency: string | null;
  balance: string | null;
  held: string | null;
  version: number | null;
}

export interface Loaded {
  state: WalletState;
  /** With an idempotency claim: false when the key was used before (the caller replays). */
  claimed: boolean;
}

const LOAD = `SELECT NULL::int AS claimed, w.id, w.currency, w.balance::text, w.held::text, w.version
  FROM (SELECT 1) one LEFT JOIN wallets w ON w.id = $1`;

/**
 * Claims the Idempotency-Key and reads the wallet in one statement. A
 * concurrent request holding the same key makes the insert wait until it
 * commits (then this one replays) or rolls back (then this one claims it).
 */
const CLAIM_AND_LOAD = `WITH claim AS (
    INSERT INTO idempotency_keys (client_id, key, fingerprint, status_code, response_body, response_headers)
    VALUES ($2, $3, $4, 0, '', '{}'::jsonb) ON CONFLICT (client_id, key) DO NOTHING RETURNING 1
  )
  SELECT (SELECT count(*) FROM claim)::int AS claimed, w.id, w.currency, w.balance::text, w.held::text, w.version
  FROM (SELECT 1) one LEFT JOIN wallets w ON w.id = $1`;

/**
 * Loads the wallet with the withdrawals the command touches (none for a
 * deposit, so the common command reads once), claiming the idempotency key in
 * the same statement when there is one.
 */
export async function loadWallet(
  client: PoolClient,
  walletId: string,
  withdrawalIds: readonly string[],
  claim?: IdempotencyClaim,
): Promise<Loaded> {
  const { rows } = claim
    ? await client.query<WalletRow>({
        name: 'sluice_claim_load_wallet',
        text: CLAIM_AND_LOAD,
        values: [walletId, claim.clientId, claim.key, claim.fingerprint],
      })
    : await client.query<WalletRow>({ name: 'sluice_load_wallet', text: LOAD, values: [walletId] });
  const row = rows[0]!;
  const claimed = claim ? row.claimed === 1 : true;
  if (!claimed || row.id === null) return { state: initialWalletState, claimed };
  const withdrawals =
    withdrawalIds.length === 0
      ? []
      : (
          await client.query<{ id: string; amount: string; status: WithdrawalStatus }>({
            name: 'sluice_load_withdrawals',
            text: 'SELECT id, amount::text, status FROM withdrawals WHERE wallet_id = $1 AND id = ANY($2::uuid[])',
            values: [walletId, withdrawalIds],
          })
        ).rows;
  return {
    claimed,
    state: {
      status: 'open',
      walletId: row.id,
      currency: row.currency!,
      balance: Number(row.balance),
      held: Number(row.held),
      version: row.version!,
      withdrawals: new Map(withdrawals.map((w) => [w.id, { amount: Number(w.amount), status: w.status }])),
    },
  };
}

/** The outbox insert as a part of the save statement: `param` binds a value, `onlyIf` is the SQL condition to insert under. */
export type OutboxInsert = (param: (value: unknown) => string, onlyIf: string) => string;

/**
 * Writes what the events lead to in one statement: the wallet row (inserted,
 * or updated only if its version is still the one read: optimistic
 * concurrency), the deposit and withdrawal rows, the stored response of
 * the idempotency key and, given `outbox`, the events' outbox rows. Every
 * part hangs on the wallet write, so a version conflict writes nothing and
 * throws VersionConflict; the command is then retried on fresh state.
 * Resolves whether the outbox rows were written (not when there was nothing
 * to save).
 */
export async function saveWallet(
  client: PoolClient,
  before: WalletState,
  events: readonly WalletEvent[],
  stored?: { claim: IdempotencyClaim; response: StoredResponse },
  outbox?: OutboxInsert,
): Promise<boolean> {
  const after = events.reduce(evolve, before);
  if (events.length === 0) {
    if (stored) await storeResponse(client, stored.claim, stored.response);
    return false;
  }
  if (after.status !== 'open') return false;
  const values: unknown[] = [];
  const $ = (v: unknown) => `$${values.push(v)}`;
  const now = new Date(events.at(-1)!.data.occurredAt);
  const ctes: string[] = [];
  let shape = '';
  if (before.status === 'absent') {
    shape += 'I';
    ctes.push(
      `w AS (INSERT INTO wallets (id, currency, balance, held, version, created_at, updated_at)
        VALUES (${$(after.walletId)}::uuid, ${$(after.currency)}, ${$(after.balance)}::bigint, ${$(after.held)}::bigint, ${$(after.version)}::int, ${$(now)}::timestamptz, ${$(now)}::timestamptz)
        ON CONFLICT (id) DO NOTHING RETURNING id)`,
    );
  } else {
    shape += 'U';
    ctes.push(
      `w AS (UPDATE wallets SET balance = ${$(after.balance)}::bigint, held = ${$(after.held)}::bigint, version = ${$(after.version)}::int, updated_at = ${$(now)}::timestamptz
        WHERE id = ${$(after.walletId)}::uuid AND version = ${$(before.version)}::int RETURNING id)`,
    );
  }
  // A withdrawal changed twice by one command (failed, then compensated) is written once, in its last state.
  const statusOf = new Map<string, { status: WithdrawalStatus; at: Date }>();
  for (const event of events) {
    const at = new Date(event.data.occurredAt);
    switch (event.type) {
      case 'WalletOpened':
        break;
      case 'FundsDeposited':
        shape += 'D';
        ctes.push(
          `d${ctes.length} AS (INSERT INTO deposits (id, wallet_id, amount, currency, created_at)
            SELECT ${$(event.data.depositId)}::uuid, w.id, ${$(event.data.amount)}::bigint, ${$(event.data.currency)}, ${$(at)}::timestamptz FROM w)`,
        );
        break;
      case 'WithdrawalRequested':
        shape += 'R';
        ctes.push(
          `r${ctes.length} AS (INSERT INTO withdrawals (id, wallet_id, amount, currency, status, created_at, updated_at)
            SELECT ${$(event.data.withdrawalId)}::uuid, w.id, ${$(event.data.amount)}::bigint, ${$(event.data.currency)}, 'requested', ${$(at)}::timestamptz, ${$(at)}::timestamptz FROM w)`,
        );
        break;
      case 'WithdrawalSubmitted':
        statusOf.set(event.data.withdrawalId, { status: 'submitted', at });
        break;
      case 'WithdrawalCompleted':
        statusOf.set(event.data.withdrawalId, { status: 'completed', at });
        break;
      case 'WithdrawalFailed':
        statusOf.set(event.data.withdrawalId, { status: 'failed', at });
        break;
      case 'WithdrawalCompensated':
        statusOf.set(event.data.withdrawalId, { status: 'compensated', at });
        break;
      default:
        assertNever(event);
    }
  }
  for (const [id, { status, at }] of statusOf) {
    shape += 'S';
    ctes.push(
      `s${ctes.length} AS (UPDATE withdrawals SET status = ${$(status)}, updated_at = ${$(at)}::timestamptz
        WHERE id = ${$(id)}::uuid AND EXISTS (SELECT 1 FROM w))`,
    );
  }
  if (stored) {
    shape += 'K';
    const { claim, response } = stored;
    ctes.push(
      `k AS (UPDATE idempotency_keys SET status_code = ${$(response.status)}::int, response_body = ${$(response.body)}, response_headers = ${$(JSON.stringify(response.headers))}::jsonb
        WHERE client_id = ${$(claim.clientId)} AND key = ${$(claim.key)} AND EXISTS (SELECT 1 FROM w))`,
    );
  }
  if (outbox) {
    shape += 'O';
    ctes.push(`o AS (${outbox($, 'EXISTS (SELECT 1 FROM w)')})`);
  }
  const text = `WITH ${ctes.join(',\n')}\nSELECT count(*)::int AS n FROM w`;
  const { rows } = await client.query<{ n: number }>({ name: statementName(shape, text), text, values });
  if (rows[0]?.n !== 1) throw new VersionConflict(after.walletId);
  return outbox !== undefined;
}

/** One prepared statement per command shape (deposit with key, withdrawal failure, …); the name tracks the text. */
function statementName(shape: string, text: string): string {
  return `sluice_save_${shape}_${createHash('sha1').update(text).digest('hex').slice(0, 8)}`;
}
