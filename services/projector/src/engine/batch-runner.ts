import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@sluice/observability';
import { backoffMs, blame, type BackoffPolicy } from './failures';
import type { ProjectorMetrics } from './metrics';
import type { BatchApplier } from './batch-grouper';
import type { BatchOutcome } from './partition-applier';
import type { BatchRecord } from './records';

export interface RetryPolicy {
  /** Attempts at a batch a projection gets before its failing event is isolated and parked (the last attempt isolates). */
  readonly maxAttempts: number;
  /** Backoff between attempts that failed because of the records. */
  readonly record: BackoffPolicy;
  /** Backoff while the database or network is down: retried for as long as it takes. */
  readonly systemic: BackoffPolicy;
}

export interface RunHooks {
  /** Aborted when the engine stops: waits end at once and nothing new starts. */
  readonly signal: AbortSignal;
  /** False once the partition was revoked: the batch is abandoned, its new owner applies it. */
  stillOwned(): boolean;
  /** Keeps the group membership alive during a long retry; throws when the group rebalances. */
  heartbeat(): Promise<void>;
  /** Called after every transaction that committed (also partial ones). */
  committed(outcome: BatchOutcome): void;
}

export type RunResult =
  | { readonly kind: 'committed'; readonly outcome: BatchOutcome }
  | { readonly kind: 'stop' }
  | { readonly kind: 'abandoned'; readonly reason: string };

/**
 * Retries a partition's batch until every projection's part committed.
 * A projection whose part fails because of the records is retried with
 * exponential backoff and jitter; its last attempt isolates the failing
 * event and parks it, so the partition keeps moving. A failure of the whole
 * transaction (database, network, registry) is retried without bound: nothing
 * is parked for it, and liveness reports the stall if it lasts.
 */
export class BatchRunner {
  constructor(
    private readonly applier: BatchApplier,
    private readonly policy: RetryPolicy,
    private readonly metrics: ProjectorMetrics,
    private readonly logger: Logger,
  ) {}

  async run(partition: number, records: readonly BatchRecord[], highWatermark: bigint, hooks: RunHooks): Promise<RunResult> {
    const attempts = new Map<string, number>();
    let systemic = 0;
    for (;;) {
      if (hooks.signal.aborted) return { kind: 'abandoned', reason: 'stopping' };
      if (!hooks.stillOwned()) return { kind: 'abandoned', reason: 'partition revoked' };
      const isolate = new Set([...attempts].filter(([, n]) => n >= this.policy.maxAttempts - 1).map(([p]) => p));
      let outcome: BatchOutcome;
      try {
        outcome = await this.applier.apply(partition, records, { highWatermark, isolate, attempts });
      } catch (err) {
        systemic++;
        this.metrics.batchFailures.inc({ projection: '*' });
        this.metrics.retries.inc({ projection: '*', blame: 'systemic' });
        const delay = backoffMs(systemic, this.policy.systemic);
        this.logger.error({ err, partition, attempt: systemic, retryInMs: delay }, 'batch transaction failed; retrying');
        if (!(await this.pause(delay, hooks))) return { kind: 'abandoned', reason: 'stopping or rebalancing' };
        continue;
      }
      systemic = 0;
      hooks.committed(outcome);
      if (outcome.stop) return { kind: 'stop' };
      let delay = -1;
      for (const r of outcome.reports) {
        if (r.status !== 'failed') continue;
        const who = blame(r.error);
        const projection = r.target.projection;
        const n = who === 'record' ? (attempts.get(projection) ?? 0) + 1 : 1;
        if (who === 'record') attempts.set(projection, n);
        this.metrics.retries.inc({ projection, blame: who });
        const wait = backoffMs(n, who === 'record' ? this.policy.record : this.policy.systemic);
        delay = Math.max(delay, wait);
        this.logger.warn(
          {
            err: r.error,
            projection,
            partition,
            attempt: n,
            blame: who,
            retryInMs: wait,
            isolating: n >= this.policy.maxAttempts - 1,
          },
          'projection failed on a batch; retrying',
        );
      }
      if (delay < 0) return { kind: 'committed', outcome };
      if (!(await this.pause(delay, hooks))) return { kind: 'abandoned', reason: 'stopping or rebalancing' };
    }
  }

  private async pause(ms: number, hooks: RunHooks): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: hooks.signal });
      await hooks.heartbeat();
      return true;
    } catch {
      return false;
    }
  }
}
