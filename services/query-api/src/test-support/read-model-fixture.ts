import { join } from 'node:path';
import type { Pool } from 'pg';
import { applyMigrations, withTransaction } from '@sluice/db';
import {
  CHANGES_CHANNEL,
  encodeChanges,
  encodeSwitch,
  HEADS_TABLE,
  migrateVersionSchema,
  publishViews,
  qualified,
  type ChangedKey,
  type ProjectionContext,
  type ProjectionDefinition,
  type Queryable,
} from '@sluice/projection-kit';
import { transactionsProjection } from '@sluice/projection-transactions';
import { walletProjection } from '@sluice/projection-wallet';
import { upsertWithdrawalViews, withdrawalsProjection, type WithdrawalView } from '@sluice/projection-withdrawals';

/**
 * The projector's migrations, by path: the query API reads the tables they
 * create (checkpoints, versions) but must not import the projector's code.
 */
const PROJECTOR_MIGRATIONS = { folder: join(__dirname, '../../../projector/migrations'), table: '__migrations_projector' };

export const PARTITIONS = 12;

/** A withdrawal's status row as the projector writes it: processing, version 3, unless `over` says otherwise. */
export function withdrawalView(
  base: { withdrawalId: string; walletId: string; requestedAt: Date; lastEventId: string },
  over: Partial<WithdrawalView> = {},
): WithdrawalView {
  return {
    ...base,
    amount: 300,
    currency: 'EUR',
    state: 'processing',
    provider: null,
    providerReference: null,
    failureReason: null,
    failureDetail: null,
    updatedAt: base.requestedAt,
    version: 3,
    ...over,
  };
}

/**
 * The database as the projector leaves it, for the query API's tests: the
 * registry, each projection's live version in its schema behind public views,
 * and writes done the way the projector's transaction does them (rows, heads,
 * checkpoint lag, then NOTIFY on commit).
 */
export class ReadModelFixture {
  constructor(
    private readonly pool: Pool,
    readonly topic: string,
  ) {}

  async install(): Promise<void> {
    await applyMigrations(this.pool, PROJECTOR_MIGRATIONS);
    for (const def of [walletProjection, transactionsProjection, withdrawalsProjection]) await this.installVersion(def, 1);
  }

  async installVersion(def: Pick<ProjectionDefinition, 'name' | 'tables' | 'migrations'>, version: number): Promise<void> {
    const schema = `proj_${def.name}_v${version}`;
    await migrateVersionSchema(this.pool, def, schema);
    await this.pool.query(
      `INSERT INTO projection_versions (projection, version, schema_name, state, origin) VALUES ($1, $2, $3, 'building', 'earliest')`,
      [def.name, version, schema],
    );
    await this.pool.query(
      `INSERT INTO projection_checkpoints (projection, version, topic, partition, next_offset)
       SELECT $1, $2, $3, p, 0 FROM generate_series(0, $4 - 1) AS p`,
      [def.name, version, this.topic, PARTITIONS],
    );
    if (version === 1) await this.switchTo(def, 1, false);
  }

  /** Makes `version` live and, like a switch, tells listeners. */
  async switchTo(def: Pick<ProjectionDefinition, 'name' | 'tables'>, version: number, notify = true): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      await tx.query(
        `INSERT INTO projections (name, live_version) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET live_version = excluded.live_version`,
        [def.name, version],
      );
      await tx.query(
        `UPDATE projection_versions SET state = CASE WHEN version = $2 THEN 'live' ELSE 'retired' END WHERE projection = $1`,
        [def.name, version],
      );
      await publishViews(tx, def, `proj_${def.name}_v${version}`);
      if (notify) await tx.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, encodeSwitch(def.name, version)]);
    });
  }

  /** Upserts a withdrawal's status row as the projector would, telling listeners its key changed. */
  putWithdrawal(v: WithdrawalView): Promise<void> {
    return this.write('withdrawals', (ctx) => upsertWithdrawalViews(ctx, [v]), [{ key: v.withdrawalId, version: v.version }]);
  }

  /** Writes as the projector's batch transaction would: `write` in the version's schema, heads, then NOTIFY at commit. */
  async write(
    projection: string,
    write: (ctx: ProjectionContext) => Promise<void>,
    changes: ChangedKey[],
    options: { notify?: boolean; version?: number } = {},
  ): Promise<void> {
    const version = options.version ?? 1;
    await withTransaction(this.pool, async (tx) => {
      const schema = `"proj_${projection}_v${version}"`;
      await write({ db: tx, schema, mode: 'live' });
      await saveHeads(tx, schema, changes);
      if (options.notify !== false) {
        await tx.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [
          CHANGES_CHANNEL,
          encodeChanges(projection, version, changes),
        ]);
      }
    });
  }

  async setLag(projection: string, partition: number, lagRecords: number, lastRecordAt: Date | null): Promise<void> {
    await this.pool.query(
      `UPDATE projection_checkpoints SET lag_records = $3, last_record_at = $4, updated_at = now()
       WHERE projection = $1 AND partition = $2`,
      [projection, partition, lagRecords, lastRecordAt],
    );
  }
}

async function saveHeads(db: Queryable, schema: string, changes: readonly ChangedKey[]): Promise<void> {
  for (const { key, version } of changes) {
    await db.query(
      `INSERT INTO ${qualified(schema, HEADS_TABLE)} (aggregate_id, version) VALUES ($1, $2)
       ON CONFLICT (aggregate_id) DO UPDATE SET version = GREATEST(excluded.version, ${qualified(schema, HEADS_TABLE)}.version)`,
      [key, version],
    );
  }
}
