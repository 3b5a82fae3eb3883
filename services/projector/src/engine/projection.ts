import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { DecodedEvent } from '@sluice/messaging';

/** A drizzle handle on the projector's transaction. */
export type Db = NodePgDatabase<Record<string, unknown>>;

export type ProjectionOutcome =
  | { readonly status: 'applied' }
  /** Already folded in (a redelivered record): expected, changes nothing. */
  | { readonly status: 'duplicate' }
  /** Not folded in because the stream and the read model disagree; `reason` is a closed-set code. */
  | { readonly status: 'rejected'; readonly reason: string; readonly detail: string };

/**
 * A read model the projector keeps from one topic.
 *
 * Contract: `apply` gets one partition's events in offset order and runs
 * inside the projector's transaction, together with the checkpoint: it must
 * neither commit nor roll back, and must not talk to anything outside that
 * transaction. It returns exactly one outcome per event, in order. It must be
 * deterministic, since a failed transaction is retried with the same events.
 * Throwing rolls the whole batch back, checkpoint included.
 */
export interface Projection<E> {
  readonly name: string;
  /** Narrows a decoded event to one this projection folds; undefined for types it does not fold. */
  accept(decoded: DecodedEvent): E | undefined;
  apply(db: Db, events: readonly E[]): Promise<ProjectionOutcome[]>;
}
