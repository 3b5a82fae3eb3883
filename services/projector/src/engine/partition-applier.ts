import { commitBehind, withPreparedStatements, withTransaction, type Pool } from '@sluice/db';
import { CHANGES_CHANNEL, encodeChanges, qualified, quoteIdent, type Queryable } from '@sluice/projection-kit';
import { leftovers } from './applied-leftovers';
import { originOf } from './applied-trace';
import {
  advanceCheckpoints,
  lockCheckpoints,
  lockPartitionCheckpoints,
  positionOf,
  type CheckpointAdvance,
  type StoredPosition,
} from '../store/checkpoints';
import { insertParked, type ParkedInsert } from '../store/parked';
import type { DeadLetter, DeadLetterPublisher } from './dead-letters';
import { NeedsSavepoints, runProjectionStep, type StepOptions, type StepRecord, type StepResult } from './projection-step';
import type { BatchRecord } from './records';
import type { Target, TargetResolver } from './targets';

/** Batch transactions of at most this many records run their statements prepared (see transaction). */
export const PREPARED_UP_TO_RECORDS = 200;

/** What became of one target (projection version) in a batch transaction. */
export type TargetReport =
  | {
      readonly target: Target;
      readonly status: 'applied';
      readonly step: StepResult;
      /** Records below the stored checkpoint: delivered again, skipped without looking. */
      readonly alreadyCheckpointed: number;
      readonly nextOffset: bigint;
      readonly lagRecords: number;
      readonly lastRecordAt: Date | null;
    }
  /** The whole batch is below the checkpoint. */
  | { readonly target: Target; readonly status: 'checkpointed'; readonly alreadyCheckpointed: number }
  /** The checkpoint is below the batch: records in between were never fetched; see seekTo. */
  | { readonly target: Target; readonly status: 'behind'; readonly storedOffset: bigint }
  /** A bounded replay past its end offset. */
  | { readonly target: Target; readonly status: 'done' }
  /** The projection's part failed and was rolled back; the others' parts commit. */
  | { readonly target: Target; readonly status: 'failed'; readonly error: unknown };

export interface BatchOutcome {
  readonly reports: TargetReport[];
  /** No version to write any more (a rebuild's version went live or was abandoned). */
  readonly stop: boolean;
  /** The lowest checkpoint below the batch: fetch again from there. */
  readonly seekTo: bigint | undefined;
  readonly deadLetters: number;
}

export interface ApplyOptions {
  readonly highWatermark: bigint;
  /** Projections whose failing event is isolated and parked in this attempt. */
  readonly isolate: ReadonlySet<string>;
  /** Failed attempts so far, per projection. */
  readonly attempts: ReadonlyMap<string, number>;
}

/** One partition's batch, as BatchRunner hands it over. */
export interface PartitionBatch {
  readonly partition: number;
  readonly records: readonly BatchRecord[];
  readonly opts: ApplyOptions;
}

/** One partition's records a target applies in a grouped transaction, and how many below its checkpoint were skipped. */
interface Slice {
  readonly i: number;
  readonly fresh: BatchRecord[];
  readonly below: number;
}

/** What one partition's part of a transaction leaves for the end of it. */
interface PartitionPart {
  readonly partition: number;
  readonly outcome: BatchOutcome;
  readonly notifications: string[];
  readonly letters: DeadLetter[];
  /** Checkpoints to move and records to park, written at the end with the notification. */
  readonly advances: CheckpointAdvance[];
  readonly parks: ParkedInsert[];
}

export interface PartitionApplierOptions {
  pool: Pool;
  topic: string;
  groupId: string;
  resolver: TargetResolver;
  /** Live only: where dead letters go. */
  deadLetters?: DeadLetterPublisher;
  /** Live only: NOTIFY the changed keys from the transaction. */
  notify: boolean;
  /** Off for rebuilds: a crash loses the last commits and their checkpoints together, and they are applied again. */
  synchronousCommit: boolean;
  /** Called when a batch's optimistic try is rolled back to run again with savepoints. */
  onSavepointRetry?: () => void;
}

/**
 * Applies one partition's batch for every target in one transaction: it
 * resolves the versions to write, locks their checkpoints, lets each
 * projection write its rows under its own savepoint, parks what must be
 * parked, publishes dead letters, moves the checkpoints past the batch and
 * notifies readers. A batch delivered again finds its checkpoints past it and
 * changes nothing; a failure rolls back rows, parks and checkpoints together.
 *
 * A batch is first tried without savepoints (most apply cleanly, and each
 * savepoint and its release is a round trip); if a projection's part fails or
 * rejects an event, that try is rolled back whole and the batch runs again
 * with a savepoint per projection and per step, so one projection's failure
 * leaves the others' parts to commit.
 */
export class PartitionApplier {
  constructor(private readonly options: PartitionApplierOptions) {}

  async apply(partition: number, records: readonly BatchRecord[], opts: ApplyOptions): Promise<BatchOutcome> {
    // A batch that failed before goes straight to savepoints: its failing part would fail again.
    if (opts.isolate.size === 0 && opts.attempts.size === 0) {
      try {
        return await this.attempt(partition, records, opts, false);
      } catch (err) {
        if (!(err instanceof NeedsSavepoints)) throw err;
        this.options.onSavepointRetry?.();
      }
    }
    return this.attempt(partition, records, opts, true);
  }

  /**
   * Several partitions' batches in one transaction, without savepoints: one
   * BEGIN, target resolution, notification and COMMIT for all of them, and one
   * projection step per target over every partition's records (a key's events
   * are all on one partition, so the partitions' records fold side by side as
   * one batch). Checkpoints stay per partition. Rolled back whole if any part
   * fails (NeedsSavepoints or a database error): the caller then applies each
   * batch on its own.
   */
  async applyGroup(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]> {
    for (const b of batches) if (b.records.length === 0) throw new RangeError('apply needs at least one record');
    const { topic } = this.options;
    return this.transaction(
      async (client, targets) => {
        // In partition order, as every transaction locks checkpoint rows: no two wait on each other.
        const order = [...batches.keys()].sort((a, b) => batches[a]!.partition - batches[b]!.partition);
        const locked = await lockPartitionCheckpoints(
          client,
          targets,
          topic,
          order.map((i) => batches[i]!.partition),
        );
        const stored = new Map<number, ReadonlyMap<string, StoredPosition>>(
          order.map((i) => [i, locked.get(batches[i]!.partition)!]),
        );
        const reports = batches.map((): TargetReport[] => []);
        const advances: CheckpointAdvance[] = [];
        const letters = batches.map((): DeadLetter[] => []);
        const seekTo = batches.map((): bigint | undefined => undefined);
        const parks: ParkedInsert[] = [];
        const notifications: string[] = [];
        const work: { target: Target; slices: Slice[]; fresh: BatchRecord[] }[] = [];
        for (const target of targets) {
          const slices: Slice[] = [];
          for (const i of order) {
            const { records } = batches[i]!;
            const placed = place(target, positionOf(stored.get(i)!, target), records);
            if (placed.kind === 'report') {
              reports[i]!.push(placed.report);
              if (placed.report.status === 'behind') seekTo[i] = min(seekTo[i], placed.report.storedOffset);
            } else slices.push({ i, fresh: placed.fresh, below: placed.below });
          }
          if (slices.length > 0) work.push({ target, slices, fresh: slices.flatMap((sl) => sl.fresh) });
        }
        const steps = await stepsAtOnce(client, work, () => ({ isolate: false, attempts: 1, savepoints: false }));
        for (const [k, { target, slices, fresh: all }] of work.entries()) {
          const step = steps[k]!;
          let at = 0;
          for (const { i, fresh, below } of slices) {
            const { partition, opts } = batches[i]!;
            const records = step.records.slice(at, (at += fresh.length));
            const applied = leftovers(this.where(partition), target, fresh, records, opts.highWatermark);
            advances.push(applied.advance);
            parks.push(...applied.parks);
            letters[i]!.push(...applied.letters);
            if (target.mode === 'replay') await recordReplay(client, target, partition, records);
            reports[i]!.push({
              target,
              status: 'applied',
              step: { records, changes: [] },
              alreadyCheckpointed: below,
              nextOffset: applied.advance.nextOffset,
              lagRecords: applied.advance.lagRecords,
              lastRecordAt: applied.advance.lastRecordAt,
            });
          }
          if (target.mode === 'live' && this.options.notify && step.changes.length > 0) {
            notifications.push(...encodeChanges(target.projection, target.version, step.changes, originOf(all, Date.now())));
          }
        }
        return batches.map((b, i) => ({
          partition: b.partition,
          outcome: { reports: reports[i]!, stop: false, seekTo: seekTo[i], deadLetters: letters[i]!.length },
          notifications: i === 0 ? notifications : [],
          letters: letters[i]!,
          advances: i === 0 ? advances : [],
          parks: i === 0 ? parks : [],
        }));
      },
      batches.length,
      batches.reduce((n, b) => n + b.records.length, 0),
    );
  }

  private async attempt(
    partition: number,
    records: readonly BatchRecord[],
    opts: ApplyOptions,
    savepoints: boolean,
  ): Promise<BatchOutcome> {
    if (records.length === 0) throw new RangeError('apply needs at least one record');
    const [outcome] = await this.transaction(
      async (client, targets) => [await this.applyPartition(client, targets, partition, records, opts, savepoints)],
      1,
      records.length,
    );
    return outcome!;
  }

  /**
   * The frame of a batch transaction: resolve the versions to write, let `body` apply the
   * partitions' parts, then notify readers of every part's changes in one statement and
   * publish the dead letters before the commit (once the checkpoint is past a record, its
   * dead letter is on the topic).
   */
  private transaction(
    body: (client: Queryable, targets: Target[]) => Promise<PartitionPart[]>,
    size: number,
    records: number,
  ): Promise<BatchOutcome[]> {
    return withTransaction(this.options.pool, async (connection) => {
      // Small batches (a live stream at moderate rates) run prepared statements: the texts are fixed per
      // projection version, and planning them again would cost more than running them. Large ones (a
      // backlog, a rebuild) are planned for their arrays' real sizes.
      const client = records <= PREPARED_UP_TO_RECORDS ? withPreparedStatements(connection, 'projector') : connection;
      if (!this.options.synchronousCommit) await client.query('SET LOCAL synchronous_commit = off');
      const targets = await this.options.resolver.resolve(client);
      if (targets.length === 0) {
        return Array.from({ length: size }, () => ({ reports: [], stop: true, seekTo: undefined, deadLetters: 0 }));
      }
      const parts = await body(client, targets);
      // The end of the transaction in one round trip on a pipelined pool: checkpoints, parked
      // records and the notification go out together, and COMMIT right behind them unless dead
      // letters must reach their topic first. Each of the three sends its statement before its
      // first await, so all are on the connection before the COMMIT.
      const notifications = parts.flatMap((p) => p.notifications);
      const letters = parts.flatMap((p) => p.letters);
      const publishing = letters.filter((l) => targets.find((t) => t.projection === l.projection)?.mode === 'live');
      const ending = [
        advanceCheckpoints(
          client,
          this.options.topic,
          parts.flatMap((p) => p.advances),
        ),
        insertParked(
          client,
          parts.flatMap((p) => p.parks),
        ),
        notifications.length > 0
          ? client.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [CHANGES_CHANNEL, notifications])
          : Promise.resolve(),
      ];
      if (publishing.length === 0 || !this.options.deadLetters) commitBehind(connection, ...ending);
      await Promise.all(ending);
      if (publishing.length > 0 && this.options.deadLetters) await this.options.deadLetters.publish(publishing);
      return parts.map((p) => p.outcome);
    });
  }

  /** One partition's batch for every target, inside a batch transaction. */
  private async applyPartition(
    client: Queryable,
    targets: readonly Target[],
    partition: number,
    records: readonly BatchRecord[],
    opts: ApplyOptions,
    savepoints: boolean,
  ): Promise<PartitionPart> {
    const { topic } = this.options;
    const stored = await lockCheckpoints(client, targets, topic, partition);
    const reports: TargetReport[] = [];
    const advances: CheckpointAdvance[] = [];
    const parks: ParkedInsert[] = [];
    const letters: DeadLetter[] = [];
    const notifications: string[] = [];
    let seekTo: bigint | undefined;
    const work: { i: number; target: Target; fresh: BatchRecord[]; below: number }[] = [];
    for (const [i, target] of targets.entries()) {
      const placed = place(target, positionOf(stored, target), records);
      if (placed.kind === 'report') {
        reports.push(placed.report);
        if (placed.report.status === 'behind') seekTo = min(seekTo, placed.report.storedOffset);
      } else work.push({ i, target, fresh: placed.fresh, below: placed.below });
    }
    const stepOptions = (target: Target): StepOptions => ({
      isolate: opts.isolate.has(target.projection),
      attempts: (opts.attempts.get(target.projection) ?? 0) + 1,
      savepoints,
    });
    // Optimistic: every projection's step at once (see stepsAtOnce). With savepoints: one after
    // another, each under its own, so one projection's failure rolls back only its part.
    const steps = savepoints ? [] : await stepsAtOnce(client, work, stepOptions);
    for (const [k, { i, target, fresh, below }] of work.entries()) {
      let step = steps[k];
      if (savepoints) {
        await client.query(`SAVEPOINT target_${i}`);
        try {
          step = await runProjectionStep(client, target, fresh, stepOptions(target));
          await client.query(`RELEASE SAVEPOINT target_${i}`);
        } catch (error) {
          await client.query(`ROLLBACK TO SAVEPOINT target_${i}`);
          reports.push({ target, status: 'failed', error });
          continue;
        }
      }
      const applied = leftovers(this.where(partition), target, fresh, step!.records, opts.highWatermark);
      advances.push(applied.advance);
      parks.push(...applied.parks);
      letters.push(...applied.letters);
      if (target.mode === 'live' && this.options.notify && step!.changes.length > 0) {
        notifications.push(...encodeChanges(target.projection, target.version, step!.changes, originOf(fresh, Date.now())));
      }
      if (target.mode === 'replay') await recordReplay(client, target, partition, step!.records);
      reports.push({
        target,
        status: 'applied',
        step: step!,
        alreadyCheckpointed: below,
        nextOffset: applied.advance.nextOffset,
        lagRecords: applied.advance.lagRecords,
        lastRecordAt: applied.advance.lastRecordAt,
      });
    }
    return {
      partition,
      outcome: { reports, stop: false, seekTo, deadLetters: letters.length },
      notifications,
      letters,
      advances,
      parks,
    };
  }

  private where(partition: number): { topic: string; groupId: string; partition: number } {
    return { topic: this.options.topic, groupId: this.options.groupId, partition };
  }
}

type Placement =
  | { readonly kind: 'report'; readonly report: TargetReport }
  | { readonly kind: 'fresh'; readonly fresh: BatchRecord[]; readonly below: number };

/**
 * Where a batch stands against a target's stored checkpoint: all below it (checkpointed), a gap
 * before it (behind: fetch again from the checkpoint), past a bounded replay's end (done), or the
 * records to apply and how many below the checkpoint were skipped.
 */
function place(target: Target, position: StoredPosition, records: readonly BatchRecord[]): Placement {
  const { nextOffset, endOffset } = position;
  if (nextOffset > records.at(-1)!.raw.offset) {
    return { kind: 'report', report: { target, status: 'checkpointed', alreadyCheckpointed: records.length } };
  }
  if (nextOffset < records[0]!.raw.offset)
    return { kind: 'report', report: { target, status: 'behind', storedOffset: nextOffset } };
  if (endOffset !== null && nextOffset >= endOffset) return { kind: 'report', report: { target, status: 'done' } };
  const fresh = records.filter((r) => r.raw.offset >= nextOffset && (endOffset === null || r.raw.offset < endOffset));
  return { kind: 'fresh', fresh, below: records.length - records.filter((r) => r.raw.offset >= nextOffset).length };
}

/**
 * The optimistic try's projection steps, all at once on the transaction's connection: on a
 * pipelined pool the projections' statements travel together (one round trip for every
 * projection's guard state, one for their writes, one for their heads), where one projection
 * after another would pay each round trip per projection. Waits for every step to settle, so no
 * statement is still in flight when a failure rolls the transaction back, then throws
 * NeedsSavepoints with the failure that caused the others (a statement sent behind a failed one
 * fails only because the transaction is aborted, SQLSTATE 25P02).
 */
async function stepsAtOnce(
  client: Queryable,
  work: readonly { target: Target; fresh: readonly BatchRecord[] }[],
  options: (target: Target) => StepOptions,
): Promise<StepResult[]> {
  const settled = await Promise.allSettled(work.map((w) => runProjectionStep(client, w.target, w.fresh, options(w.target))));
  const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    const cause =
      failures.map(unwrap).find((e) => (e as { code?: unknown } | undefined)?.code !== '25P02') ?? unwrap(failures[0]);
    throw new NeedsSavepoints(cause);
  }
  return settled.map((r) => (r as PromiseFulfilledResult<StepResult>).value);
}

function unwrap(error: unknown): unknown {
  return error instanceof NeedsSavepoints ? error.reason : error;
}

function min(a: bigint | undefined, b: bigint): bigint {
  return a === undefined || b < a ? b : a;
}

/** A replay keeps every record it read, decoded, with what the projection made of it: the investigation's evidence. */
export const REPLAY_EVENTS_TABLE = 'replayed_events';

async function recordReplay(db: Queryable, target: Target, partition: number, records: readonly StepRecord[]): Promise<void> {
  if (records.length === 0) return;
  const outcome = (r: StepRecord): string => (r.verdict.kind === 'fold' ? (r.outcome ?? 'applied') : r.verdict.kind);
  const reason = (r: StepRecord): string | null => (r.verdict.kind === 'dead' ? `${r.verdict.code}: ${r.verdict.detail}` : null);
  await db.query(
    `INSERT INTO ${qualified(quoteIdent(target.schema), REPLAY_EVENTS_TABLE)}
       (partition, "offset", key, event_type, aggregate_version, outcome, reason, data, record_timestamp)
     SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::text[], $8::jsonb[], $9::timestamptz[])
     ON CONFLICT DO NOTHING`,
    [
      partition,
      records.map((r) => r.record.raw.offset.toString()),
      records.map((r) => r.record.key ?? null),
      records.map((r) => r.eventType ?? null),
      records.map((r) => r.aggregateVersion ?? null),
      records.map(outcome),
      records.map(reason),
      records.map((r) => (r.record.decoded.ok ? JSON.stringify(r.record.decoded.data) : null)),
      records.map((r) => r.record.raw.timestamp?.toISOString() ?? null),
    ],
  );
}
