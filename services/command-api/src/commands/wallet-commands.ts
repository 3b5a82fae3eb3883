import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from 'pg';
import { uuidv7 } from '@sluice/core';
import { Counter, type Registry } from 'prom-client';
import { classifyPgError, commitBehind, TransactionTimeout, withTransaction, type PgFailureCode } from '@sluice/db';
import { ProblemError, problems } from '@sluice/http';
import {
  formatTraceparent,
  isSampled,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Span,
  type SpanContext,
  type Tracer,
} from '@sluice/observability';
import type { OutboxWriter } from '@sluice/outbox';
import { deadlineExceeded, fullJitterDelay, type AdmissionController, type Deadline } from '@sluice/resilience';
import type { WalletEvent } from '@sluice/schemas';
import { decide, evolve, WalletError, type WalletCommand, type WalletErrorCode, type WalletState } from '@sluice/wallet-domain';
import { storedResponse, type IdempotencyClaim, type StoredResponse } from '../idempotency/idempotency';
import { claimInbox, type InboxClaim } from '../internal/inbox';
import { CommitGroups } from './commit-groups';
import { WalletLanes } from './wallet-lanes';
import { loadWallets, saveWallets, VersionConflict, type AuditRecord, type HeldClaim, type WalletWrite } from './wallet-store';

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

/**
 * The database's "not now" answers: statement timeout, lock timeout, idle-in-transaction timeout,
 * out of connections or resources, no pooled connection in time.
 */
const PG_TOO_SLOW: ReadonlySet<PgFailureCode> = new Set<PgFailureCode>([
  'query_canceled',
  'lock_not_available',
  'idle_in_transaction_timeout',
  'insufficient_resources',
  'connect_timeout',
]);

/** Failures that mean the database is congested: they shrink the admission limit. */
export function isDatabaseCongestion(err: unknown): boolean {
  if (err instanceof TransactionTimeout) return true;
  const failure = classifyPgError(err);
  return failure !== undefined && PG_TOO_SLOW.has(failure.code);
}

export interface WalletCommandsOptions {
  /** Retries of a command whose wallet another process changed meanwhile. */
  conflictRetries: number;
  /** Command transactions running at once (the rest of the pool serves reads). */
  transactions: number;
  /** Commands in one transaction, at most. */
  maxBatch: number;
  /** A command with less time left than this runs alone, so its budget never cuts its batch short. */
  minBatchBudgetMs?: number;
  clock?: () => number;
  registry?: Registry;
  /** A span per traced command around its batch's transaction; unset, none. */
  tracer?: Tracer;
}

interface Pending {
  request: CommandRequest;
  resolve: (result: CommandResult) => void;
  reject: (err: unknown) => void;
  conflicts: number;
  /** Runs in a batch of its own (after its batch failed as a whole). */
  solo: boolean;
  /** The context of the request or message that sent the command; its outbox rows carry it on. */
  trace: SpanContext | undefined;
  /** The command's span in its current batch (recorded traces only). */
  span?: Span;
}

type Outcome = { kind: 'done'; result: CommandResult } | { kind: 'failed'; error: unknown } | { kind: 'conflict' };

/** Thrown out of a batch's transaction to roll it back when no command in it writes anything. */
class NothingToCommit extends Error {
  constructor(readonly outcomes: Outcome[]) {
    super('no command in the batch writes anything');
  }
}

/**
 * Runs wallet commands. Each command: claims its idempotency key (or inbox
 * entry), loads the wallet, lets the pure domain decide, writes the new
 * state, appends the events to the outbox and stores the response, all in
 * one transaction; nothing of it is written when any step fails.
 *
 * Commands on one wallet queue in its lane. Commands on different wallets
 * that are admitted while the database is busy share a transaction (group
 * commit, see CommitGroups): a batch is still two statements and a commit,
 * so its costs are paid once for all of them. One command's refusal or
 * version conflict releases only its own claim and leaves the others'
 * effects; a batch that fails as a whole (a deadlock between processes, a
 * bad row) runs again one command per transaction, so no command fails for
 * another's sake.
 */
export class WalletCommands {
  private readonly lanes = new WalletLanes();
  private readonly groups: CommitGroups<Pending>;
  private readonly clock: () => number;
  private readonly minBatchBudgetMs: number;
  private readonly reruns?: Counter;

  constructor(
    private readonly pool: Pool,
    private readonly outbox: OutboxWriter,
    private readonly admission: AdmissionController,
    private readonly options: WalletCommandsOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.minBatchBudgetMs = options.minBatchBudgetMs ?? 20;
    this.groups = new CommitGroups<Pending>({
      transactions: options.transactions,
      maxBatch: options.maxBatch,
      keysOf: keysOf,
      solo: (p) => p.solo || (p.request.deadline?.remainingMs() ?? Infinity) < this.minBatchBudgetMs,
      run: (batch) => this.runBatch(batch),
      ...(options.registry && { registry: options.registry }),
    });
    if (options.registry) {
      this.reruns = new Counter({
        name: 'sluice_command_group_reruns_total',
        help: 'Command batches that failed as a whole and ran again one command per transaction',
        registers: [options.registry],
      });
    }
  }

  async execute(request: CommandRequest): Promise<CommandResult> {
    const { deadline } = request;
    try {
      return await this.lanes.run(request.command.walletId, deadline, () =>
        this.admission.run(
          () =>
            new Promise<CommandResult>((resolve, reject) =>
              this.groups.submit({
                request,
                resolve,
                reject,
                conflicts: 0,
                solo: false,
                trace: trace.getActiveSpan()?.spanContext(),
              }),
            ),
          deadline,
        ),
      );
    } catch (err) {
      throw toProblem(err);
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const live = batch.filter((p) => {
      if (p.request.deadline?.remainingMs() !== 0) return true;
      p.reject(deadlineExceeded('before the database transaction'));
      return false;
    });
    if (live.length === 0) return;
    this.startSpans(live);
    const budgets = live.flatMap((p) => (p.request.deadline ? [p.request.deadline.remainingMs()] : []));
    let outcomes: Outcome[];
    try {
      outcomes = await withTransaction(this.pool, (client) => this.attempt(client, live), {
        ...(budgets.length > 0 && { timeoutMs: Math.min(...budgets) }),
      });
    } catch (err) {
      if (err instanceof NothingToCommit) {
        outcomes = err.outcomes;
      } else if (live.length > 1 && !isDatabaseCongestion(err)) {
        this.reruns?.inc();
        endSpans(live, 'the batch failed as a whole; running alone');
        for (const p of live) this.groups.submit({ ...p, solo: true });
        return;
      } else {
        endSpans(live, 'the batch failed');
        for (const p of live) p.reject(err);
        return;
      }
    }
    live.forEach((p, i) => {
      const outcome: Outcome = outcomes[i] ?? {
        kind: 'failed',
        error: new Error('the batch left this command without an outcome'),
      };
      p.span?.setAttribute('sluice.outcome', outcome.kind);
      p.span?.end();
      if (outcome.kind === 'done') p.resolve(outcome.result);
      else if (outcome.kind === 'failed') p.reject(outcome.error);
      else this.retryConflict(p);
    });
  }

  /**
   * One span per recorded command, child of its request's, for the time of its batch's
   * transaction (with the batch's size): one span per command rather than one per batch with
   * links, because a trace viewer shows a child in the deposit's trace but not a link.
   */
  private startSpans(batch: Pending[]): void {
    const tracer = this.options.tracer;
    if (!tracer) return;
    for (const p of batch) {
      if (!isSampled(p.trace)) continue;
      p.span = tracer.startSpan(
        'wallet.commit',
        {
          attributes: {
            'sluice.command': p.request.command.type,
            'sluice.batch_size': batch.length,
            'sluice.attempt': p.conflicts + 1,
          },
        },
        trace.setSpanContext(ROOT_CONTEXT, p.trace),
      );
    }
  }

  /** Another process wrote the wallet: run the command again on fresh state, spreading contending writers. */
  private retryConflict(p: Pending): void {
    const pause = fullJitterDelay(p.conflicts + 1, 1, 32);
    if (p.conflicts >= this.options.conflictRetries || (p.request.deadline?.remainingMs() ?? Infinity) <= pause) {
      p.reject(new VersionConflict(p.request.command.walletId));
      return;
    }
    void sleep(pause).then(() => this.groups.submit({ ...p, conflicts: p.conflicts + 1 }));
  }

  /** One batch's transaction body: per command, what became of it. */
  private async attempt(client: PoolClient, batch: readonly Pending[]): Promise<Outcome[]> {
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
        const events = decide(command, before, { now: this.clock(), newId: uuidv7 });
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
          outbox: (param, onlyIf) => this.outbox.insertStatement(outboxEvents, param, onlyIf),
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
}

function endSpans(batch: readonly Pending[], message: string): void {
  for (const p of batch) {
    p.span?.setStatus({ code: SpanStatusCode.ERROR, message });
    p.span?.end();
  }
}

function keysOf({ request }: Pending): string[] {
  const keys = [`wallet ${request.command.walletId}`];
  if (request.idempotency) keys.push(`key ${request.idempotency.clientId}\n${request.idempotency.key}`);
  if (request.inbox) keys.push(`inbox ${request.inbox.consumer}\n${request.inbox.messageId}`);
  return keys;
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
