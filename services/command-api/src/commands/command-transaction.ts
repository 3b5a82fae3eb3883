import type { PoolClient } from 'pg';
import { uuidv7 } from '@sluice/core';
import { commitBehind } from '@sluice/db';
import { formatTraceparent, type Span, type SpanContext } from '@sluice/observability';
import type { OutboxWriter } from '@sluice/outbox';
import type { Deadline } from '@sluice/resilience';
import type { WalletEvent } from '@sluice/schemas';
import { decide, evolve, WalletError, type WalletCommand, type WalletState } from '@sluice/wallet-domain';
import { storedResponse, type IdempotencyClaim, type StoredResponse } from '../idempotency/idempotency';
import { claimInbox, type InboxClaim } from '../internal/inbox';
import { saveWallets, type AuditRecord, type HeldClaim, type WalletWrite } from './wallet-save';
import { loadWallets } from './wallet-store';

export interface CommandRequest {
  command: WalletCommand;
  /** HTTP commands: the Idempotency-Key claim, stored with the response in the same transaction. */
  idempotency?: IdempotencyClaim;
  /** Internal commands: the inbox entry (consumer, command id) recorded in the same transaction. */
  inbox?: InboxClaim;
  /** The request's time budget: waiting, retries and statements all fit in it. */
  deadline?: Deadline;
  /** Who the command acts for, recorded in the audit log with its effect. */
  actor: { principal: string; source: 'http' | 'kafka'; requestId: string | null };
  /**
   * Set for a caller acting on its own wallets only (customer scopes): a
   * wallet another subject owns is refused as wallet_not_found, exactly as
   * one that does not exist, so its existence does not leak.
   */
  ownedBy?: string;
  /** Builds the response from the wallet's new state and the events the command produced. */
  respond: (state: WalletState, events: readonly WalletEvent[]) => StoredResponse;
}

export interface CommandResult {
  response: StoredResponse;
  replayed: boolean;
}

/** One command of a batch, as its transaction sees it. */
export interface BatchedCommand {
  request: CommandRequest;
  /** The context of the request or message that sent the command; its outbox rows carry it on. */
  trace: SpanContext | undefined;
  /** The command's span in its current batch (recorded traces only). */
  span?: Span;
}

export type Outcome = { kind: 'done'; result: CommandResult } | { kind: 'failed'; error: unknown } | { kind: 'conflict' };

/** Thrown out of a batch's transaction to roll it back when no command in it writes anything. */
export class NothingToCommit extends Error {
  constructor(readonly outcomes: Outcome[]) {
    super('no command in the batch writes anything');
  }
}

export interface TransactionDeps {
  outbox: OutboxWriter;
  clock: () => number;
}

/**
 * One batch's transaction body: per command, what became of it. Claims the
 * inbox rows, loads the wallets (claiming the Idempotency-Keys), lets the pure
 * domain decide, and saves every command's effect in one statement with
 * COMMIT right behind it. Throws NothingToCommit when no command writes.
 */
export async function runCommandTransaction(
  client: PoolClient,
  batch: readonly BatchedCommand[],
  { outbox, clock }: TransactionDeps,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const held: (HeldClaim | undefined)[] = [];
  const toLoad: number[] = [];
  for (const [i, { request }] of batch.entries()) {
    if (request.inbox) {
      // Internal commands claim their inbox row first; one handled before replays what it led to.
      const seen = await claimInbox(client, request.inbox);
      if (seen) {
        outcomes[i] = { kind: 'done', result: { response: seen, replayed: true } };
        continue;
      }
      held[i] = { kind: 'inbox', claim: request.inbox };
    } else if (request.idempotency) {
      held[i] = { kind: 'idempotency', claim: request.idempotency };
    }
    toLoad.push(i);
  }
  const loaded = await loadWallets(
    client,
    toLoad.map((i) => {
      const { command, idempotency } = batch[i]!.request;
      return {
        walletId: command.walletId,
        withdrawalIds: withdrawalIdsOf(command),
        ...(idempotency && { claim: idempotency }),
      };
    }),
  );
  const writes: WalletWrite[] = [];
  const written: { index: number; response: StoredResponse }[] = [];
  const released: HeldClaim[] = [];
  for (const [k, i] of toLoad.entries()) {
    const { request } = batch[i]!;
    const { command, idempotency } = request;
    const { state: before, claimed, owner } = loaded[k]!;
    try {
      if (!claimed && idempotency) {
        outcomes[i] = { kind: 'done', result: { response: await storedResponse(client, idempotency), replayed: true } };
        continue;
      }
      if (request.ownedBy !== undefined && before.status === 'open' && owner !== request.ownedBy) {
        throw new WalletError('wallet_not_found', `wallet ${command.walletId} does not exist`);
      }
      const events = decide(command, before, { now: clock(), newId: uuidv7 });
      const response = request.respond(events.reduce(evolve, before), events);
      const traceparent = formatTraceparent(batch[i]!.span?.spanContext() ?? batch[i]!.trace);
      const outboxEvents = events.map((event) => ({
        aggregateType: 'wallet',
        aggregateId: command.walletId,
        event,
        ...(traceparent !== undefined && { traceparent }),
      }));
      // The outbox rows go in the save statement: no round trip of their own.
      writes.push({
        walletId: command.walletId,
        before,
        events,
        ...(idempotency && { stored: { claim: idempotency, response } }),
        outbox: (param, onlyIf) => outbox.insertStatement(outboxEvents, param, onlyIf),
        ...(held[i] && { claim: held[i] }),
        audit: auditRecord(command, request.actor),
      });
      written.push({ index: i, response });
    } catch (error) {
      outcomes[i] = { kind: 'failed', error };
      if (held[i]) released.push(held[i]);
    }
  }
  if (writes.length === 0) throw new NothingToCommit(outcomes);
  // COMMIT goes out right behind the save, in its round trip: nothing after it can undo the batch.
  // The outbox rows stay until the relay has published them (it prunes them).
  const saved = saveWallets(client, writes, released);
  commitBehind(client, saved);
  const took = await saved;
  took.forEach((ok, w) => {
    const { index, response } = written[w]!;
    outcomes[index] = ok ? { kind: 'done', result: { response, replayed: false } } : { kind: 'conflict' };
  });
  return outcomes;
}

function auditRecord(command: WalletCommand, actor: CommandRequest['actor']): AuditRecord {
  const money = command.type === 'DepositFunds' || command.type === 'RequestWithdrawal';
  return {
    ...actor,
    commandType: command.type,
    walletId: command.walletId,
    amount: money ? command.amount : null,
    currency: money || command.type === 'OpenWallet' ? command.currency : null,
  };
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
