import { setTimeout as sleep } from 'node:timers/promises';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { Pool, PoolClient } from 'pg';
import type { Db } from '../db/db';
import { uuidv7 } from '@sluice/core';
import { withTransaction } from '@sluice/db';
import { ProblemError, problems } from '@sluice/http';
import type { OutboxWriter } from '@sluice/outbox';
import type { WalletEvent } from '@sluice/schemas';
import { decide, WalletError, type WalletCommand, type WalletErrorCode, type WalletState } from '@sluice/wallet-domain';
import { claimKey, storeResponse, type IdempotencyClaim, type StoredResponse } from '../idempotency/idempotency';
import { loadWallet, saveWallet, VersionConflict } from './wallet-store';

export interface CommandRequest {
  command: WalletCommand;
  idempotency?: IdempotencyClaim;
  /** Builds the HTTP response from the wallet's new state and the events the command produced. */
  respond: (state: WalletState, events: readonly WalletEvent[]) => StoredResponse;
}

export interface CommandResult {
  response: StoredResponse;
  replayed: boolean;
}

const WALLET_ERROR_STATUS: Record<WalletErrorCode, number> = {
  wallet_not_found: 404,
  wallet_already_exists: 409,
  unsupported_currency: 422,
  currency_mismatch: 422,
  invalid_amount: 400,
  balance_limit_exceeded: 422,
};

/**
 * Runs a wallet command: in one transaction it claims the idempotency key,
 * loads the wallet, lets the pure domain decide, writes the new state, appends
 * the events to the outbox and stores the response. Nothing is written when
 * any step fails.
 */
export class WalletCommands {
  constructor(
    private readonly pool: Pool,
    private readonly outbox: OutboxWriter,
    private readonly conflictRetries: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async execute(request: CommandRequest): Promise<CommandResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await withTransaction(this.pool, (client) => this.attempt(drizzle(client), client, request));
      } catch (err) {
        if (err instanceof VersionConflict && attempt < this.conflictRetries) {
          // Spread the retries of contending writers so they stop colliding.
          await sleep(Math.random() * 2 ** Math.min(attempt, 6));
          continue;
        }
        throw toProblem(err);
      }
    }
  }

  private async attempt(db: Db, client: PoolClient, request: CommandRequest): Promise<CommandResult> {
    if (request.idempotency) {
      const stored = await claimKey(db, request.idempotency);
      if (stored) return { response: stored, replayed: true };
    }
    const before = await loadWallet(db, request.command.walletId);
    const events = decide(request.command, before, { now: this.clock(), newId: uuidv7 });
    const after = await saveWallet(db, before, events);
    await this.outbox.append(
      client,
      events.map((event) => ({ aggregateType: 'wallet', aggregateId: request.command.walletId, event })),
    );
    const response = request.respond(after, events);
    if (request.idempotency) await storeResponse(db, request.idempotency, response);
    return { response, replayed: false };
  }
}

function toProblem(err: unknown): unknown {
  if (err instanceof WalletError) {
    const status = WALLET_ERROR_STATUS[err.code];
    return new ProblemError(status, err.code, err.code.replace(/_/g, ' '), err.message);
  }
  if (err instanceof VersionConflict) {
    return problems.conflict('version_conflict', `${err.message}; retry the request`);
  }
  const pgCode = (err as { code?: string }).code;
  // statement_timeout / lock_timeout / idle-in-transaction timeout: the database is too slow right now.
  if (pgCode === '57014' || pgCode === '55P03' || pgCode === '25P03') {
    return problems.unavailable('the database did not answer in time', 1);
  }
  return err;
}
