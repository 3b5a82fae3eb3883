import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from 'pg';
import { uuidv7 } from '@sluice/core';
import { TransactionTimeout, withTransaction } from '@sluice/db';
import { ProblemError, problems } from '@sluice/http';
import type { OutboxWriter } from '@sluice/outbox';
import { deadlineExceeded, type AdmissionController, type Deadline } from '@sluice/resilience';
import type { WalletEvent } from '@sluice/schemas';
import { decide, evolve, WalletError, type WalletCommand, type WalletErrorCode, type WalletState } from '@sluice/wallet-domain';
import { storedResponse, type IdempotencyClaim, type StoredResponse } from '../idempotency/idempotency';
import { claimInbox, type InboxClaim } from '../internal/inbox';
import { WalletLanes } from './wallet-lanes';
import { loadWallet, saveWallet, VersionConflict } from './wallet-store';

export interface CommandRequest {
  command: WalletCommand;
  /** HTTP commands: the Idempotency-Key claim, stored with the response in the same transaction. */
  idempotency?: IdempotencyClaim;
  /** Internal commands: the inbox entry (consumer, command id) recorded in the same transaction. */
  inbox?: InboxClaim;
  /** The request's time budget: waiting, retries and statements all fit in it. */
  deadline?: Deadline;
  /** Builds the response from the wallet's new state and the events the command produced. */
  respond: (state: WalletState, events: readonly WalletEvent[]) => StoredResponse;
}

export interface CommandResult {
  response: StoredResponse;
  replayed: boolean;
}

export const WALLET_ERROR_STATUS: Record<WalletErrorCode, number> = {
  wallet_not_found: 404,
  wallet_already_exists: 409,
  unsupported_currency: 422,
  currency_mismatch: 422,
  invalid_amount: 400,
  balance_limit_exceeded: 422,
  insufficient_funds: 422,
  withdrawal_not_found: 404,
  withdrawal_already_exists: 409,
  withdrawal_not_pending: 409,
};

/** PostgreSQL's "not now" answers: statement timeout, lock timeout, idle-in-transaction timeout, too many connections. */
const PG_TOO_SLOW = new Set(['57014', '55P03', '25P03', '53300']);

/** Failures that mean the database is congested: they shrink the admission limit. */
export function isDatabaseCongestion(err: unknown): boolean {
  if (err instanceof TransactionTimeout) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && PG_TOO_SLOW.has(code)) return true;
  return err instanceof Error && err.message.includes('timeout exceeded when trying to connect');
}

/**
 * Runs a wallet command: in one transaction it claims the idempotency key (or
 * the inbox entry), loads the wallet, lets the pure domain decide, writes the
 * new state, appends the events to the outbox and stores the response.
 * Nothing is written when any step fails. Commands on one wallet queue in its
 * lane; the transaction runs under the database's admission control and
 * within the request's deadline.
 */
export class WalletCommands {
  private readonly lanes = new WalletLanes();

  constructor(
    private readonly pool: Pool,
    private readonly outbox: OutboxWriter,
    private readonly admission: AdmissionController,
    private readonly conflictRetries: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async execute(request: CommandRequest): Promise<CommandResult> {
    const { deadline } = request;
    try {
      return await this.lanes.run(request.command.walletId, deadline, () =>
        this.admission.run(() => this.withRetries(request), deadline),
      );
    } catch (err) {
      throw toProblem(err);
    }
  }

  private async withRetries(request: CommandRequest): Promise<CommandResult> {
    for (let attempt = 0; ; attempt++) {
      const timeoutMs = request.deadline?.remainingMs();
      if (timeoutMs === 0) throw deadlineExceeded('before the database transaction');
      try {
        return await withTransaction(this.pool, (client) => this.attempt(client, request), {
          ...(timeoutMs !== undefined && { timeoutMs }),
        });
      } catch (err) {
        if (!(err instanceof VersionConflict) || attempt >= this.conflictRetries) throw err;
        // Another process wrote the wallet: spread the retries of contending writers.
        const pause = Math.random() * 2 ** Math.min(attempt, 5);
        if ((request.deadline?.remainingMs() ?? Infinity) <= pause) throw err;
        await sleep(pause);
      }
    }
  }

  private async attempt(client: PoolClient, request: CommandRequest): Promise<CommandResult> {
    if (request.inbox) {
      const seen = await claimInbox(client, request.inbox);
      if (seen) return { response: seen, replayed: true };
    }
    const { command, idempotency } = request;
    const { state: before, claimed } = await loadWallet(client, command.walletId, withdrawalIdsOf(command), idempotency);
    if (!claimed && idempotency) return { response: await storedResponse(client, idempotency), replayed: true };
    const events = decide(command, before, { now: this.clock(), newId: uuidv7 });
    const after = events.reduce(evolve, before);
    const response = request.respond(after, events);
    const outboxEvents = events.map((event) => ({ aggregateType: 'wallet', aggregateId: command.walletId, event }));
    // The outbox rows go in the save statement and their delete with COMMIT: no round trip of their own.
    const inlined = await saveWallet(client, before, events, idempotency && { claim: idempotency, response }, (param, onlyIf) =>
      this.outbox.insertStatement(outboxEvents, param, onlyIf),
    );
    if (inlined) this.outbox.deleteWithCommit(client, outboxEvents);
    else await this.outbox.append(client, outboxEvents);
    return { response, replayed: false };
  }
}

function withdrawalIdsOf(command: WalletCommand): string[] {
  switch (command.type) {
    case 'OpenWallet':
    case 'DepositFunds':
      return [];
    case 'RequestWithdrawal':
    case 'MarkWithdrawalSubmitted':
    case 'CompleteWithdrawal':
    case 'FailWithdrawal':
      return [command.withdrawalId];
    default: {
      const never: never = command;
      throw new Error(`unhandled command ${JSON.stringify(never)}`);
    }
  }
}

/** The HTTP answer for a refused or failed command. */
export function toProblem(err: unknown): unknown {
  if (err instanceof ProblemError) return err;
  if (err instanceof WalletError) {
    const status = WALLET_ERROR_STATUS[err.code];
    return new ProblemError(status, err.code, err.code.replace(/_/g, ' '), err.message, err.details);
  }
  if (err instanceof VersionConflict) {
    return problems.conflict('version_conflict', `${err.message}; retry the request`);
  }
  if (isDatabaseCongestion(err)) return deadlineExceeded('in the database');
  return err;
}
