import type { PoolClient } from 'pg';
import { statementName } from '@sluice/db';
import type { WalletEvent } from '@sluice/schemas';
import { assertNever, evolve, type WalletState, type WithdrawalStatus } from '@sluice/wallet-domain';
import type { IdempotencyClaim, StoredResponse } from '../idempotency/idempotency';
import type { InboxClaim } from '../internal/inbox';

/*
 * The second statement of a command batch's transaction (the first, the
 * load, is in wallet-store.ts): one statement of CTEs writing every
 * command's effect, each part hanging on its own wallet's version check.
 */

export class VersionConflict extends Error {
  constructor(readonly walletId: string) {
    super(`wallet ${walletId} changed concurrently`);
  }
}

/** The outbox insert as a part of the save statement: `param` binds a value, `onlyIf` is the SQL condition to insert under. */
export type OutboxInsert = (param: (value: unknown) => string, onlyIf: string) => string;

/** A claim a command holds in its transaction (its Idempotency-Key or its inbox row), deleted again when the command writes nothing. */
export type HeldClaim = { kind: 'idempotency'; claim: IdempotencyClaim } | { kind: 'inbox'; claim: InboxClaim };

/** What one command of a batch leads to. */
export interface WalletWrite {
  walletId: string;
  before: WalletState;
  events: readonly WalletEvent[];
  /** The response to store under the command's Idempotency-Key, with its effect. */
  stored?: { claim: IdempotencyClaim; response: StoredResponse };
  /** Its events' outbox rows, inserted in the same statement. */
  outbox?: OutboxInsert;
  /** Its claim, released when the wallet's version check fails (the command is retried on fresh state). */
  claim?: HeldClaim;
  /** Its audit record, appended with its effect. */
  audit?: AuditRecord;
}

/** Who did what under which request: one audit_log row per command that took effect. */
export interface AuditRecord {
  principal: string;
  source: 'http' | 'kafka';
  commandType: string;
  walletId: string;
  amount: number | null;
  currency: string | null;
  /** The Idempotency-Key or the internal command's id. */
  requestId: string | null;
}

/**
 * Writes what a batch of commands (on distinct wallets) leads to, in one
 * statement. Per command: the wallet row (inserted, or updated only if its
 * version is still the one read: optimistic concurrency), its deposit and
 * withdrawal rows, the stored response of its idempotency key and its outbox
 * rows. Every part of a command hangs on its own wallet write, so a version
 * conflict writes nothing of that command (and releases its claim) while the
 * others take effect. `released` are the claims of commands the domain
 * refused, deleted in the same statement. Resolves, per write, whether it
 * took effect; false is a version conflict, to be retried on fresh state.
 * The wallets are written in id order, so concurrent batches that share
 * wallets (several processes) queue on them rather than deadlock. The
 * statement is sent before this returns, so the caller may send its COMMIT
 * right behind it (commitBehind) before waiting for the answer.
 */
export function saveWallets(
  client: PoolClient,
  writes: readonly WalletWrite[],
  released: readonly HeldClaim[] = [],
): Promise<boolean[]> {
  const values: unknown[] = [];
  const $ = (v: unknown) => `$${values.push(v)}`;
  const ctes: string[] = [];
  const shapes: string[] = [];
  // Positions in wallet order: the statement's text depends on the batch's shapes alone, not on
  // the order its commands arrived in, so one prepared statement serves every batch of a shape.
  const versioned: number[] = [];
  const order = writes.map((_, j) => j).sort((a, b) => (writes[a]!.walletId < writes[b]!.walletId ? -1 : 1));
  order.forEach((j, k) => {
    const built = writeCtes(writes[j]!, `_${k}`, $);
    ctes.push(...built.ctes);
    shapes.push(built.shape);
    if (built.versioned) versioned.push(k);
  });
  released.forEach((held, i) => {
    shapes.push(held.kind === 'idempotency' ? 'X' : 'Y');
    ctes.push(`x${i} AS (${deleteClaim(held, $)})`);
  });
  if (ctes.length === 0) return Promise.resolve(writes.map(() => true));
  const select =
    versioned.length === 0
      ? 'SELECT NULL::int AS n WHERE false'
      : versioned.map((k) => `SELECT ${k} AS n FROM w_${k}`).join('\nUNION ALL ');
  const text = `WITH ${ctes.join(',\n')}\n${select}`;
  // Batches of one shape (deposits, say) reuse a prepared statement per size; a mixed batch is planned once.
  const homogeneous = shapes.every((shape) => shape === shapes[0]);
  const sent = client.query<{ n: number }>(
    homogeneous ? { name: statementName(text, `save_${shapes.length}${shapes[0]}`), text, values } : { text, values },
  );
  return sent.then(({ rows }) => {
    const written = new Set(rows.map((r) => r.n));
    const took = writes.map(() => true);
    for (const k of versioned) took[order[k]!] = written.has(k);
    return took;
  });
}

function deleteClaim(held: HeldClaim, $: (v: unknown) => string): string {
  return held.kind === 'idempotency'
    ? `DELETE FROM idempotency_keys WHERE client_id = ${$(held.claim.clientId)} AND key = ${$(held.claim.key)}`
    : `DELETE FROM inbox WHERE consumer = ${$(held.claim.consumer)} AND message_id = ${$(held.claim.messageId)}`;
}

/**
 * One command's part of the save statement, its CTE names ending in
 * `suffix`: `versioned` when it hangs on a wallet write (w<suffix>).
 */
function writeCtes(
  write: WalletWrite,
  suffix: string,
  $: (v: unknown) => string,
): { ctes: string[]; shape: string; versioned: boolean } {
  const { before, events, stored, outbox, claim, audit } = write;
  const after = events.reduce(evolve, before);
  const ctes: string[] = [];
  if (events.length === 0 || after.status !== 'open') {
    if (!stored) return { ctes, shape: '', versioned: false };
    ctes.push(`k${suffix} AS (${updateStored(stored, $, 'true')})`);
    return { ctes, shape: 'k', versioned: false };
  }
  const w = `w${suffix}`;
  const written = `EXISTS (SELECT 1 FROM ${w})`;
  const now = new Date(events.at(-1)!.data.occurredAt);
  let shape = '';
  if (before.status === 'absent') {
    shape += 'I';
    const opened = events.find((e) => e.type === 'WalletOpened');
    const owner = opened?.type === 'WalletOpened' ? (opened.data.owner ?? null) : null;
    ctes.push(
      `${w} AS (INSERT INTO wallets (id, currency, balance, held, version, owner, created_at, updated_at)
        VALUES (${$(after.walletId)}::uuid, ${$(after.currency)}, ${$(after.balance)}::bigint, ${$(after.held)}::bigint, ${$(after.version)}::int, ${$(owner)}::varchar, ${$(now)}::timestamptz, ${$(now)}::timestamptz)
        ON CONFLICT (id) DO NOTHING RETURNING id)`,
    );
  } else {
    shape += 'U';
    ctes.push(
      `${w} AS (UPDATE wallets SET balance = ${$(after.balance)}::bigint, held = ${$(after.held)}::bigint, version = ${$(after.version)}::int, updated_at = ${$(now)}::timestamptz
        WHERE id = ${$(after.walletId)}::uuid AND version = ${$(before.version)}::int RETURNING id)`,
    );
  }
  // A withdrawal changed twice by one command (failed, then compensated) is written once, in its last state.
  const statusOf = new Map<string, { status: WithdrawalStatus; at: Date }>();
  events.forEach((event, e) => {
    const at = new Date(event.data.occurredAt);
    switch (event.type) {
      case 'WalletOpened':
        break;
      case 'FundsDeposited':
        shape += 'D';
        ctes.push(
          `d${e}${suffix} AS (INSERT INTO deposits (id, wallet_id, amount, currency, created_at)
            SELECT ${$(event.data.depositId)}::uuid, ${w}.id, ${$(event.data.amount)}::bigint, ${$(event.data.currency)}, ${$(at)}::timestamptz FROM ${w})`,
        );
        break;
      case 'WithdrawalRequested':
        shape += 'R';
        ctes.push(
          `r${e}${suffix} AS (INSERT INTO withdrawals (id, wallet_id, amount, currency, status, created_at, updated_at)
            SELECT ${$(event.data.withdrawalId)}::uuid, ${w}.id, ${$(event.data.amount)}::bigint, ${$(event.data.currency)}, 'requested', ${$(at)}::timestamptz, ${$(at)}::timestamptz FROM ${w})`,
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
  });
  let s = 0;
  for (const [id, { status, at }] of statusOf) {
    shape += 'S';
    ctes.push(
      `s${s++}${suffix} AS (UPDATE withdrawals SET status = ${$(status)}, updated_at = ${$(at)}::timestamptz
        WHERE id = ${$(id)}::uuid AND ${written})`,
    );
  }
  if (stored) {
    shape += 'K';
    ctes.push(`k${suffix} AS (${updateStored(stored, $, written)})`);
  }
  if (outbox) {
    shape += 'O';
    ctes.push(`o${suffix} AS (${outbox($, written)})`);
  }
  if (audit) {
    shape += 'A';
    ctes.push(
      `a${suffix} AS (INSERT INTO audit_log (principal, source, command_type, wallet_id, amount, currency, request_id, recorded_at)
        SELECT ${$(audit.principal)}::varchar, ${$(audit.source)}::varchar, ${$(audit.commandType)}::varchar, ${w}.id, ${$(audit.amount)}::bigint, ${$(audit.currency)}::char(3), ${$(audit.requestId)}::varchar, ${$(now)}::timestamptz FROM ${w})`,
    );
  }
  if (claim) {
    shape += claim.kind === 'idempotency' ? 'x' : 'y';
    ctes.push(`x${suffix} AS (${deleteClaim(claim, $)} AND NOT ${written})`);
  }
  return { ctes, shape, versioned: true };
}

function updateStored(
  stored: { claim: IdempotencyClaim; response: StoredResponse },
  $: (v: unknown) => string,
  onlyIf: string,
): string {
  const { claim, response } = stored;
  return `UPDATE idempotency_keys SET status_code = ${$(response.status)}::int, response_body = ${$(response.body)}, response_headers = ${$(JSON.stringify(response.headers))}::jsonb
        WHERE client_id = ${$(claim.clientId)} AND key = ${$(claim.key)} AND ${onlyIf}`;
}
