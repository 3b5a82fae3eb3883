import type { Pool } from 'pg';
import { SluiceError } from '@sluice/core';
import { quoteIdent } from '@sluice/db';
import { parseLsn, type Lsn } from './lsn';

export type SlotErrorCode =
  | 'slot_invalid'
  | 'slot_missing'
  | 'slot_recreated'
  | 'publication_invalid'
  | 'outbox_table_missing'
  | 'wal_level_not_logical';

export class SlotError extends SluiceError<SlotErrorCode> {}

/** How long creating a slot may wait for the server's open transactions to end. */
const SLOT_CREATION_TIMEOUT_MS = 60_000;

export interface SlotState {
  confirmedFlushLsn: Lsn;
  restartLsn: Lsn;
  active: boolean;
  /**
   * PostgreSQL removed WAL the slot still needed (wal_status = 'lost', past
   * max_slot_wal_keep_size): it can never stream again. Its positions are 0.
   * Writers go on (their rows stay in the outbox); the relay drops the slot,
   * creates a new one and republishes what the table holds.
   */
  lost: boolean;
}

/**
 * The publication and permanent logical slot the relay streams the outbox
 * from. Writers in WAL mode ensure them before their first write too: a slot
 * only captures changes made after it exists, and the outbox table holds
 * nothing to snapshot. It refuses to go on when either is not what it must
 * be: a slot of another plugin or database, or one whose WAL was removed,
 * would silently skip events.
 */
export class OutboxSlot {
  constructor(
    private readonly pool: Pool,
    private readonly slot: string,
    private readonly publication: string,
    private readonly table: { schema: string; name: string },
  ) {}

  /**
   * Ensures the publication and the slot; with createSlot false, a missing slot yields undefined.
   * A lost slot is returned as it is (lost: true), not recreated: that is the relay's to do.
   */
  async ensure({ createSlot = true }: { createSlot?: boolean } = {}): Promise<SlotState | undefined> {
    const { rows: level } = await this.pool.query<{ wal_level: string }>('SHOW wal_level');
    if (level[0]?.wal_level !== 'logical') {
      throw new SlotError(
        'wal_level_not_logical',
        `wal_level is ${level[0]?.wal_level}; set it with ALTER SYSTEM SET wal_level = logical and restart PostgreSQL (deploy/local/postgres.sh start does this locally)`,
      );
    }
    await this.ensurePublication();
    return createSlot ? this.ensureSlot() : this.read();
  }

  get name(): string {
    return this.slot;
  }

  private async ensurePublication(): Promise<void> {
    const { schema, name } = this.table;
    const { rowCount: hasTable } = await this.pool.query(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2`, [
      schema,
      name,
    ]);
    if (!hasTable) {
      throw new SlotError(
        'outbox_table_missing',
        `table ${schema}.${name} does not exist yet (the writer's migrations create it)`,
        {
          retriable: true,
        },
      );
    }
    const { rows } = await this.pool.query<{ pubinsert: boolean }>('SELECT pubinsert FROM pg_publication WHERE pubname = $1', [
      this.publication,
    ]);
    if (rows.length === 0) {
      await this.pool
        .query(
          `CREATE PUBLICATION ${quoteIdent(this.publication)} FOR TABLE ${quoteIdent(schema)}.${quoteIdent(name)} WITH (publish = 'insert')`,
        )
        .catch((err: { code?: string }) => {
          if (err.code !== '42710') throw err; // created concurrently by another instance
        });
      return;
    }
    const { rowCount: covers } = await this.pool.query(
      'SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
      [this.publication, schema, name],
    );
    if (!covers || !rows[0]?.pubinsert) {
      throw new SlotError(
        'publication_invalid',
        `publication ${this.publication} exists but does not publish inserts into ${schema}.${name}; ` +
          `fix it with: ALTER PUBLICATION ${quoteIdent(this.publication)} ADD TABLE ${quoteIdent(schema)}.${quoteIdent(name)}; ` +
          `ALTER PUBLICATION ${quoteIdent(this.publication)} SET (publish = 'insert')`,
      );
    }
  }

  private async ensureSlot(): Promise<SlotState> {
    let state = await this.read();
    if (!state) {
      await this.createSlot();
      state = await this.read();
      if (!state) throw new SlotError('slot_invalid', `slot ${this.slot} vanished right after it was created`);
    }
    return state;
  }

  /**
   * Creating a logical slot waits for every transaction open on the server to end (it builds a
   * consistent snapshot), which on a busy server takes longer than an API pool's statement
   * timeout allows. So it runs on a connection of its own with a longer timeout.
   */
  private async createSlot(): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(`SET statement_timeout = ${SLOT_CREATION_TIMEOUT_MS}`);
      await client
        .query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [this.slot])
        .catch((err: { code?: string }) => {
          if (err.code !== '42710') throw err; // created concurrently by another instance
        });
      await client.query('RESET statement_timeout');
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      // A connection whose session setting may not have been reset leaves the pool.
      client.release(broken);
    }
  }

  /** The slot's state, or undefined when it does not exist. Throws when it exists but is unusable. */
  async read(): Promise<SlotState | undefined> {
    const { rows } = await this.pool.query<{
      plugin: string;
      slot_type: string;
      database: string;
      current_db: string;
      confirmed_flush_lsn: string | null;
      restart_lsn: string | null;
      wal_status: string | null;
      active: boolean;
    }>(
      `SELECT plugin, slot_type, database, current_database() AS current_db, confirmed_flush_lsn::text,
              restart_lsn::text, wal_status, active
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.slot],
    );
    const row = rows[0];
    if (!row) return undefined;
    const drop = `SELECT pg_drop_replication_slot('${this.slot}')`;
    if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput' || row.database !== row.current_db) {
      throw new SlotError(
        'slot_invalid',
        `slot ${this.slot} is a ${row.slot_type} slot of plugin ${row.plugin} in database ${row.database}; ` +
          `Sluice needs a pgoutput logical slot in ${row.current_db}. Use another OUTBOX_SLOT_NAME, or drop it (${drop}) knowing its consumer loses its position`,
      );
    }
    if (row.wal_status === 'lost' || row.confirmed_flush_lsn === null || row.restart_lsn === null) {
      return { confirmedFlushLsn: 0n, restartLsn: 0n, active: row.active, lost: true };
    }
    return {
      confirmedFlushLsn: parseLsn(row.confirmed_flush_lsn),
      restartLsn: parseLsn(row.restart_lsn),
      active: row.active,
      lost: false,
    };
  }

  /** Drops the slot (it must not be streaming); no-op when it is already gone. */
  async drop(): Promise<void> {
    await this.pool.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
      this.slot,
    ]);
  }

  /** Bytes of WAL the server keeps for this slot (current position − restart_lsn). */
  async retainedWalBytes(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ bytes: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS bytes FROM pg_replication_slots WHERE slot_name = $1`,
      [this.slot],
    );
    return rows[0]?.bytes == null ? undefined : Number(rows[0].bytes);
  }
}
