import type { Pool } from 'pg';
import { formatLsn, parseLsn, type Lsn } from '@sluice/outbox';

/** A record's place in the WAL: its transaction's commit LSN and its index within it. */
export interface RecordPosition {
  commitLsn: Lsn;
  idx: number;
}

export interface RelayCheckpoint extends RecordPosition {
  /** The position last confirmed to PostgreSQL (becomes the slot's confirmed_flush_lsn). */
  confirmedLsn: Lsn;
}

export const BEFORE_ANY_RECORD: RecordPosition = { commitLsn: 0n, idx: -1 };

/** True when a is at or before b. */
export function atOrBefore(a: RecordPosition, b: RecordPosition): boolean {
  return a.commitLsn < b.commitLsn || (a.commitLsn === b.commitLsn && a.idx <= b.idx);
}

export class CheckpointStore {
  constructor(
    private readonly pool: Pool,
    private readonly slot: string,
  ) {}

  async load(): Promise<RelayCheckpoint | undefined> {
    const { rows } = await this.pool.query<{ commit_lsn: string; idx: number; confirmed_lsn: string }>(
      'SELECT commit_lsn::text, idx, confirmed_lsn::text FROM relay_checkpoints WHERE slot_name = $1',
      [this.slot],
    );
    const row = rows[0];
    return row && { commitLsn: parseLsn(row.commit_lsn), idx: row.idx, confirmedLsn: parseLsn(row.confirmed_lsn) };
  }

  async save(checkpoint: RelayCheckpoint): Promise<void> {
    await this.pool.query(
      `INSERT INTO relay_checkpoints (slot_name, commit_lsn, idx, confirmed_lsn, updated_at)
       VALUES ($1, $2::pg_lsn, $3, $4::pg_lsn, now())
       ON CONFLICT (slot_name) DO UPDATE
         SET commit_lsn = excluded.commit_lsn, idx = excluded.idx, confirmed_lsn = excluded.confirmed_lsn, updated_at = now()`,
      [this.slot, formatLsn(checkpoint.commitLsn), checkpoint.idx, formatLsn(checkpoint.confirmedLsn)],
    );
  }
}
