import type { PoolClient } from 'pg';

/** Runs SQL on the engine's transaction: a pg client, nothing more. */
export type Queryable = Pick<PoolClient, 'query'>;

/**
 * Why the engine runs the projection: `live` keeps the version readers see;
 * `rebuild` builds a new version beside it; `replay` folds a bounded range
 * into a side schema for an investigation. Only `live` may have effects
 * outside the read model (the engine itself publishes dead letters and change
 * notifications in `live` only).
 */
export type ProjectionMode = 'live' | 'rebuild' | 'replay';

export interface ProjectionContext {
  readonly db: Queryable;
  /** The quoted schema holding this version's tables, e.g. "proj_wallet_v2"; prefix every table with it. */
  readonly schema: string;
  readonly mode: ProjectionMode;
}

export type ProjectionOutcome =
  /** Folded in. `key` names the read-model row it changed when that is not the aggregate (cache invalidation). */
  | { readonly status: 'applied'; readonly key?: string }
  /** Already folded in: changes nothing. */
  | { readonly status: 'duplicate' }
  /**
   * The stream and the read model disagree about this event (`reason` is a
   * code from the projection's closed set). Deterministic: the engine parks
   * it as a dead letter at once, without retrying, and holds the later events
   * of its key behind it.
   */
  | { readonly status: 'rejected'; readonly reason: string; readonly detail: string };

/** The aggregate an event belongs to and the aggregate's version after it. */
export interface AggregatePosition {
  readonly id: string;
  readonly version: number;
}

/** An event as the codec decoded it: its type and data in the reader schema. */
export interface DecodedEventLike {
  readonly type: string;
  readonly data: unknown;
}

/**
 * A projection as data: one folder under projections/ holding its read-model
 * tables (drizzle, with a drizzle-kit migration set), the topic and event
 * types it folds, and a pure fold behind `apply`.
 *
 * Contract of `apply`: it gets events in offset order that the engine's
 * version guard already let through (each is its aggregate's next version),
 * runs inside the engine's transaction (never commits or rolls back, touches
 * nothing outside it), writes only to tables in `ctx.schema`, and returns one
 * outcome per event, in order. It must be deterministic: the engine calls it
 * again with the same events after a rollback. A thrown error rolls back this
 * projection's part of the batch; the engine retries it with backoff and, when
 * it keeps failing, isolates the event that fails and parks it.
 */
export interface ProjectionDefinition<E extends DecodedEventLike = DecodedEventLike> {
  /** Lower-case letters, digits and _; names the versions' schemas (proj_<name>_v<n>). */
  readonly name: string;
  readonly description: string;
  /** The aggregate type whose topic it reads (the outbox routes aggregatetype to a topic). */
  readonly aggregateType: string;
  /**
   * The event types it folds (its own, and older ones it upcasts into them: withUpcasters); other
   * events of the topic only move the version guard.
   */
  readonly eventTypes: readonly string[];
  /** Its read-model tables; readers see the live version's through views of the same names in public. */
  readonly tables: readonly string[];
  /** drizzle-kit migrations written with unqualified table names; the engine applies them inside each version's schema. */
  readonly migrations: { readonly folder: string };
  /**
   * Whether a version started from a timestamp means something: true when the
   * fold needs no earlier events of an aggregate (a statement since T), false
   * when it does (a balance needs every deposit).
   */
  readonly partialHistory: boolean;
  /** For every event of the topic: its aggregate and version. Undefined for an event that carries none. */
  position(event: DecodedEventLike): AggregatePosition | undefined;
  /** Narrows a decoded event to one this projection folds; undefined for the other types. */
  accept(event: DecodedEventLike): E | undefined;
  apply(ctx: ProjectionContext, events: readonly E[]): Promise<ProjectionOutcome[]>;
  /**
   * A table this projection kept in public before versions existed: adopted as
   * version 1 (moved into its schema, its journal and positions with it) so an
   * upgrade keeps serving instead of rebuilding.
   */
  readonly legacy?: {
    readonly tables: readonly string[];
    readonly migrationsTable: string;
    /** SELECT returning (aggregate_id text, version int) from the adopted tables, unqualified. */
    readonly headsQuery: string;
  };
}

const PROJECTION_NAME = /^[a-z][a-z0-9_]{0,39}$/;

export function assertProjectionName(name: string): string {
  if (!PROJECTION_NAME.test(name)) throw new RangeError(`"${name}" is not a projection name: ${PROJECTION_NAME.source}`);
  return name;
}
