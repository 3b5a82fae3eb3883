import type { AggregatePosition } from '@sluice/projection-kit';

/** What the guard knows of one record, for one projection. */
export interface GuardInput {
  readonly offset: bigint;
  /** The record key, else the aggregate id: the unit of order that parking preserves. */
  readonly parkingKey: string | undefined;
  /** Why the record cannot be folded at all (it did not decode); undefined when it decoded. */
  readonly undecodable?: { readonly code: string; readonly detail: string };
  readonly position: AggregatePosition | undefined;
  /** Whether the projection folds the record's event type. */
  readonly folded: boolean;
}

export type Verdict =
  /** The aggregate's next version, of a type the projection folds: hand it to the projection. */
  | { readonly kind: 'fold' }
  /** The aggregate's next version, of a type the projection does not fold: only the guard moves. */
  | { readonly kind: 'pass' }
  | { readonly kind: 'duplicate'; readonly head: number }
  /** No aggregate position and not folded: nothing to do. */
  | { readonly kind: 'ignore' }
  | { readonly kind: 'dead'; readonly code: string; readonly detail: string; readonly attempts: number }
  /** Behind a dead record of the same key: parked until that one is re-driven or skipped. */
  | { readonly kind: 'held' };

/** Verdicts without data are shared: a batch of thousands allocates none of them. */
const FOLD: Verdict = { kind: 'fold' };
const PASS: Verdict = { kind: 'pass' };
const IGNORE: Verdict = { kind: 'ignore' };
const HELD: Verdict = { kind: 'held' };

export interface Poison {
  readonly code: string;
  readonly detail: string;
  readonly attempts: number;
}

export interface GuardPlan {
  readonly verdicts: Verdict[];
  /** Heads that moved, aggregate id → version. */
  readonly heads: Map<string, number>;
}

/**
 * The per-aggregate version guard and per-key parking, as a pure function of
 * one projection's view of a batch. An event's version is its aggregate's
 * version after it, so the next event to fold is always head + 1:
 * - a key with a dead (parked) record holds every later record of that key,
 *   so the key's order survives until the dead one is re-driven or skipped;
 * - version <= head is a redelivery and changes nothing;
 * - version > head + 1 is a gap (an earlier event never arrived): the record
 *   is parked as a dead letter and its key held, rather than showing a state
 *   that skipped history;
 * - `poisoned` records (rejected by the projection, or failing whenever they
 *   are applied) are dead with their code, and hold their key.
 * With `baseline` (a version started mid-stream), an aggregate without a head
 * takes its first event as the starting point.
 */
export function planGuard(
  records: readonly GuardInput[],
  knownHeads: ReadonlyMap<string, number>,
  parkedKeys: ReadonlySet<string>,
  poisoned: ReadonlyMap<bigint, Poison>,
  baseline: boolean,
): GuardPlan {
  const parked = new Set(parkedKeys);
  const working = new Map(knownHeads);
  const moved = new Map<string, number>();
  const verdicts = records.map((r): Verdict => {
    const park = (verdict: Verdict): Verdict => {
      if (r.parkingKey !== undefined) parked.add(r.parkingKey);
      return verdict;
    };
    if (r.parkingKey !== undefined && parked.has(r.parkingKey)) return HELD;
    if (r.undecodable) return park({ kind: 'dead', code: r.undecodable.code, detail: r.undecodable.detail, attempts: 1 });
    const poison = poisoned.get(r.offset);
    if (poison) return park({ kind: 'dead', ...poison });
    if (!r.position) {
      return r.folded
        ? park({ kind: 'dead', code: 'no_position', detail: 'the event names no aggregate version', attempts: 1 })
        : IGNORE;
    }
    const { id, version } = r.position;
    if (!Number.isInteger(version) || version < 1) {
      return park({ kind: 'dead', code: 'invalid_version', detail: `version ${version}; versions start at 1`, attempts: 1 });
    }
    const known = working.get(id);
    const head = known ?? (baseline ? version - 1 : 0);
    if (version <= head) return { kind: 'duplicate', head };
    if (version !== head + 1) {
      return park({
        kind: 'dead',
        code: 'version_gap',
        detail: `version ${version} of ${id} follows version ${head}: version ${head + 1} never arrived`,
        attempts: 1,
      });
    }
    working.set(id, version);
    moved.set(id, version);
    return r.folded ? FOLD : PASS;
  });
  return { verdicts, heads: moved };
}
