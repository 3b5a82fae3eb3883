import type { ProjectionDefinition, ProjectionMode, Queryable } from '@sluice/projection-kit';
import type { VersionRef } from '../store/checkpoints';
import { lockShared } from '../store/locks';

/** A projection version the engine writes, with how to write it. */
export interface Target extends VersionRef {
  readonly def: ProjectionDefinition;
  readonly schema: string;
  readonly mode: ProjectionMode;
  /** Started mid-stream: an aggregate's first event sets its head (see planGuard). */
  readonly baseline: boolean;
}

/**
 * Which versions a batch writes. Resolved inside every batch transaction,
 * under the projections' shared advisory locks: a switch of the live version
 * (exclusive lock) happens wholly before or wholly after a batch.
 */
export interface TargetResolver {
  readonly mode: ProjectionMode;
  /** Under the shared locks; empty when this engine has nothing left to write (its version was switched away). */
  resolve(db: Queryable): Promise<Target[]>;
  /** Without locks, to seek on assignment. */
  peek(db: Queryable): Promise<Target[]>;
}

interface Row {
  projection: string;
  version: number;
  schema_name: string;
  state: string;
  origin: string;
}

const baselineOf = (origin: string): boolean => origin === 'timestamp' || origin === 'range';

/**
 * The shared locks, then the peek, sent together: the server runs them in order (the peek reads
 * once the locks are held), and a pipelined pool sends both in one round trip.
 */
async function lockedPeek(db: Queryable, projections: readonly string[], resolver: TargetResolver): Promise<Target[]> {
  const [, targets] = await Promise.all([lockShared(db, projections), resolver.peek(db)]);
  return targets;
}

/** The live versions of the projections the service hosts. */
export class LiveTargets implements TargetResolver {
  readonly mode = 'live' as const;
  private readonly defs: Map<string, ProjectionDefinition>;

  constructor(defs: readonly ProjectionDefinition[]) {
    this.defs = new Map(defs.map((d) => [d.name, d]));
  }

  async resolve(db: Queryable): Promise<Target[]> {
    return lockedPeek(db, [...this.defs.keys()], this);
  }

  async peek(db: Queryable): Promise<Target[]> {
    const { rows } = await db.query<Row>(
      `SELECT v.projection, v.version, v.schema_name, v.state, v.origin
       FROM projections p JOIN projection_versions v ON v.projection = p.name AND v.version = p.live_version
       WHERE p.name = ANY($1::text[]) ORDER BY v.projection`,
      [[...this.defs.keys()]],
    );
    return rows.map((r) => ({
      def: this.defs.get(r.projection)!,
      projection: r.projection,
      version: r.version,
      schema: r.schema_name,
      mode: 'live',
      baseline: baselineOf(r.origin),
    }));
  }
}

/** One version that is not live: a rebuild (state building) or a bounded replay (state replay). */
export class PinnedTarget implements TargetResolver {
  constructor(
    private readonly def: ProjectionDefinition,
    private readonly version: number,
    readonly mode: 'rebuild' | 'replay',
  ) {}

  async resolve(db: Queryable): Promise<Target[]> {
    return lockedPeek(db, [this.def.name], this);
  }

  async peek(db: Queryable): Promise<Target[]> {
    const { rows } = await db.query<Row>(
      'SELECT projection, version, schema_name, state, origin FROM projection_versions WHERE projection = $1 AND version = $2',
      [this.def.name, this.version],
    );
    const row = rows[0];
    const expected = this.mode === 'rebuild' ? 'building' : 'replay';
    if (!row || row.state !== expected) return [];
    return [
      {
        def: this.def,
        projection: row.projection,
        version: row.version,
        schema: row.schema_name,
        mode: this.mode,
        baseline: baselineOf(row.origin),
      },
    ];
  }
}
