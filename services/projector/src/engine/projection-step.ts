import { errorMessage } from '@sluice/core';
import {
  quoteIdent,
  type ChangedKey,
  type DecodedEventLike,
  type ProjectionContext,
  type ProjectionOutcome,
  type Queryable,
} from '@sluice/projection-kit';
import { loadGuardState } from '../store/guard-state';
import { saveHeads } from '../store/heads';
import { blame, errorCode } from './failures';
import { planGuard, type GuardInput, type Poison, type Verdict } from './guard';
import type { BatchRecord } from './records';
import type { Target } from './targets';

export interface StepRecord {
  readonly record: BatchRecord;
  readonly verdict: Verdict;
  /** For verdict fold: what the projection made of it. */
  readonly outcome: 'applied' | 'duplicate' | undefined;
  readonly eventType: string | undefined;
  readonly aggregateVersion: number | undefined;
}

export interface StepResult {
  readonly records: StepRecord[];
  /** Aggregates whose head moved and read-model keys changed, at their new version: the change notification. */
  readonly changes: ChangedKey[];
}

export interface StepOptions {
  /** Find and park the event that makes `apply` throw, instead of rethrowing. */
  readonly isolate: boolean;
  /** How often the batch was tried so far: what a dead letter found by isolation reports. */
  readonly attempts: number;
  /** A key being re-driven: its own parked records do not hold it. */
  readonly redriveKey?: string;
  /**
   * False for the optimistic first try of a batch: no savepoint around `apply`, and anything
   * that would need one to be undone (a throw, a rejected event) throws NeedsSavepoints, which
   * rolls the whole transaction back so the batch is tried again with them. Most batches apply
   * cleanly, and each savepoint and its release is a round trip to the server.
   */
  readonly savepoints?: boolean;
}

/** The optimistic try of a batch met something only a savepoint can undo: try it again with savepoints. */
export class NeedsSavepoints extends Error {
  constructor(readonly reason: unknown) {
    super('the batch needs savepoints');
  }
}

/**
 * One projection's part of a batch, inside the batch transaction: the version
 * guard and parking (planGuard) decide which events reach the projection, the
 * projection applies them, and the heads move. Rejected events are parked and
 * the step re-planned without them (a rejection holds its key's later events,
 * which may already have been applied: the savepoint undoes that). With
 * `isolate`, an `apply` that throws for something in the records is narrowed
 * down to the first event that fails, which is parked the same way.
 */
export async function runProjectionStep(
  db: Queryable,
  target: Target,
  records: readonly BatchRecord[],
  options: StepOptions,
): Promise<StepResult> {
  const { def } = target;
  const ctx: ProjectionContext = { db, schema: quoteIdent(target.schema), mode: target.mode };
  const events: (DecodedEventLike | undefined)[] = [];
  const inputs = records.map((r, i): GuardInput => {
    if (!r.decoded.ok) {
      return {
        offset: r.raw.offset,
        parkingKey: r.key,
        undecodable: { code: r.decoded.code, detail: r.decoded.detail },
        position: undefined,
        folded: false,
      };
    }
    try {
      const position = def.position(r.decoded);
      const event = def.accept(r.decoded);
      events[i] = event;
      return { offset: r.raw.offset, parkingKey: r.key ?? position?.id, position, folded: event !== undefined };
    } catch (err) {
      // The projection cannot even place the event: nothing to retry, park it like a value that does not decode.
      return {
        offset: r.raw.offset,
        parkingKey: r.key,
        undecodable: { code: errorCode(err), detail: errorMessage(err) },
        position: undefined,
        folded: false,
      };
    }
  });
  const keys = [...new Set(inputs.map((i) => i.parkingKey).filter((k): k is string => k !== undefined))];
  const ids = inputs.map((i) => i.position?.id).filter((id): id is string => id !== undefined);
  const { parkedKeys, heads } = await loadGuardState(db, target, ctx.schema, keys, ids);
  if (options.redriveKey !== undefined) parkedKeys.delete(options.redriveKey);
  const poisoned = new Map<bigint, Poison>();
  const savepoints = options.savepoints ?? true;

  for (let round = 0; round <= records.length + 1; round++) {
    const plan = planGuard(inputs, heads, parkedKeys, poisoned, target.baseline);
    const folding = plan.verdicts.flatMap((v, i) => (v.kind === 'fold' ? [i] : []));
    const batch = folding.map((i) => events[i]!);
    if (savepoints) await db.query('SAVEPOINT step');
    let outcomes: ProjectionOutcome[];
    try {
      outcomes = batch.length === 0 ? [] : await def.apply(ctx, batch);
      if (outcomes.length !== batch.length) {
        throw new Error(`projection ${def.name} returned ${outcomes.length} outcomes for ${batch.length} events`);
      }
    } catch (err) {
      if (!savepoints) throw new NeedsSavepoints(err);
      await db.query('ROLLBACK TO SAVEPOINT step');
      if (!options.isolate || blame(err) === 'systemic') throw err;
      const failing = await firstFailing(db, ctx, target, batch);
      if (failing) {
        poisoned.set(inputs[folding[failing.index]!]!.offset, {
          code: errorCode(failing.error),
          detail: errorMessage(failing.error),
          attempts: options.attempts,
        });
      }
      continue;
    }
    const rejected = outcomes.flatMap((o, j) => (o.status === 'rejected' ? [{ j, o }] : []));
    if (rejected.length > 0) {
      if (!savepoints) throw new NeedsSavepoints(rejected[0]!.o);
      await db.query('ROLLBACK TO SAVEPOINT step');
      for (const { j, o } of rejected) {
        if (o.status === 'rejected') poisoned.set(inputs[folding[j]!]!.offset, { code: o.reason, detail: o.detail, attempts: 1 });
      }
      continue;
    }
    if (savepoints) await db.query('RELEASE SAVEPOINT step');
    await saveHeads(db, ctx.schema, plan.heads);
    return summarize(records, inputs, plan.verdicts, folding, outcomes, plan.heads);
  }
  throw new Error(`projection ${def.name}: the batch did not settle after ${records.length + 2} rounds`);
}

function summarize(
  records: readonly BatchRecord[],
  inputs: readonly GuardInput[],
  verdicts: readonly Verdict[],
  folding: readonly number[],
  outcomes: readonly ProjectionOutcome[],
  heads: ReadonlyMap<string, number>,
): StepResult {
  const outcomeOf = new Array<ProjectionOutcome | undefined>(records.length);
  for (let j = 0; j < folding.length; j++) outcomeOf[folding[j]!] = outcomes[j];
  // Every aggregate whose head moved (readers waiting for a version watch these), and every row key an event changed.
  const changed = new Map<string, number>(heads);
  const out = new Array<StepRecord>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const position = inputs[i]!.position;
    const outcome = outcomeOf[i];
    const status = outcome === undefined || outcome.status === 'rejected' ? undefined : outcome.status;
    if (outcome?.status === 'applied' && position && outcome.key !== undefined) {
      changed.set(outcome.key, Math.max(changed.get(outcome.key) ?? 0, position.version));
    }
    out[i] = {
      record,
      verdict: verdicts[i]!,
      outcome: status,
      eventType: record.decoded.ok ? record.decoded.type : undefined,
      aggregateVersion: position?.version,
    };
  }
  return { records: out, changes: [...changed].map(([key, version]) => ({ key, version })) };
}

/**
 * Bisects for the shortest prefix of `events` whose apply throws: its last
 * event is the first one that fails. Every probe runs under a savepoint that
 * is rolled back, so nothing of the search remains.
 */
async function firstFailing(
  db: Queryable,
  ctx: ProjectionContext,
  target: Target,
  events: readonly DecodedEventLike[],
): Promise<{ index: number; error: unknown } | undefined> {
  const probe = async (length: number): Promise<unknown> => {
    await db.query('SAVEPOINT probe');
    try {
      await target.def.apply(ctx, events.slice(0, length));
      return undefined;
    } catch (err) {
      return err ?? new Error('apply threw nothing');
    } finally {
      await db.query('ROLLBACK TO SAVEPOINT probe');
    }
  };
  let lo = 1;
  let hi = events.length;
  let error = await probe(hi);
  if (error === undefined) return undefined; // it passes now: whatever failed was not in the events
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const e = await probe(mid);
    if (e === undefined) lo = mid + 1;
    else {
      hi = mid;
      error = e;
    }
  }
  if (lo !== hi || hi < 1) return undefined;
  // `error` belongs to the smallest failing prefix probed; make sure it is that of prefix `lo`.
  const last = await probe(lo);
  return last === undefined ? undefined : { index: lo - 1, error: last };
}
