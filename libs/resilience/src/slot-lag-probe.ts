import type { Pool } from 'pg';
import type { LagReading } from './lag-shedder';

/**
 * Reads a logical replication slot's lag from PostgreSQL: WAL written but not
 * yet confirmed by its consumer (current LSN − confirmed_flush_lsn) and WAL
 * the server keeps for it (current LSN − restart_lsn). Undefined when the slot
 * does not exist.
 */
export function slotLagProbe(pool: Pool, slotName: string): () => Promise<LagReading | undefined> {
  return async () => {
    const { rows } = await pool.query<{ lag: string | null; retained: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slotName],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { relayLagBytes: Number(row.lag ?? 0), retainedWalBytes: Number(row.retained ?? 0) };
  };
}
