import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { withTransaction } from '@sluice/db';
import { isSampled, ROOT_CONTEXT, SpanStatusCode, trace, type Tracer } from '@sluice/observability';
import type { OutboxWriter } from '@sluice/outbox';
import { deadlineExceeded, fullJitterDelay, type AdmissionController } from '@sluice/resilience';
import { isDatabaseCongestion, toProblem } from './command-problems';
import {
  NothingToCommit,
  runCommandTransaction,
  type BatchedCommand,
  type CommandRequest,
  type CommandResult,
  type Outcome,
  type TransactionDeps,
} from './command-transaction';
import { CommitGroups } from './commit-groups';
import { WalletLanes } from './wallet-lanes';
import { VersionConflict } from './wallet-save';

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

/** A command waiting for, or running in, a batch. */
interface Pending extends BatchedCommand {
  resolve: (result: CommandResult) => void;
  reject: (err: unknown) => void;
  conflicts: number;
  /** Runs in a batch of its own (after its batch failed as a whole). */
  solo: boolean;
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
  private readonly deps: TransactionDeps;
  private readonly minBatchBudgetMs: number;
  private readonly reruns?: Counter;

  constructor(
    private readonly pool: Pool,
    outbox: OutboxWriter,
    private readonly admission: AdmissionController,
    private readonly options: WalletCommandsOptions,
  ) {
    this.deps = { outbox, clock: options.clock ?? Date.now };
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
      outcomes = await withTransaction(this.pool, (client) => runCommandTransaction(client, live, this.deps), {
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
