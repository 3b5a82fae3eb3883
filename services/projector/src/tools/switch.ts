import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import { CHANGES_CHANNEL, encodeSwitch, type ProjectionDefinition } from '@sluice/projection-kit';
import { lockExclusive } from '../store/locks';
import { getVersion, liveVersion, publishViews, setVersionState } from '../store/versions';

export type SwitchResult =
  | { readonly switched: true; readonly from: number | undefined; readonly to: number }
  | { readonly switched: false; readonly behind: { partition: number; live: bigint; candidate: bigint }[] };

/**
 * Makes `version` the live one, atomically: under the projection's exclusive
 * advisory lock (every batch of the live consumer and of the rebuild holds it
 * shared, so none is in flight and none starts until this commits), it checks
 * the candidate is at or past the live version on every partition, points
 * the registry and the public views at it, retires the old version (kept for
 * rollback) and notifies readers. The live consumer group is not touched: its
 * next batch reads the new live version and carries on from its checkpoints.
 */
export async function switchLive(
  pool: Pool,
  def: ProjectionDefinition,
  version: number,
  topic: string,
  options: { requireCaughtUp: boolean } = { requireCaughtUp: true },
): Promise<SwitchResult> {
  return withTransaction(pool, async (client) => {
    await lockExclusive(client, def.name);
    const candidate = await getVersion(client, def.name, version);
    if (!candidate) throw new Error(`${def.name} has no version ${version}`);
    if (candidate.state !== 'building' && candidate.state !== 'retired') {
      throw new Error(`${def.name} v${version} is ${candidate.state}; only a building or retired version can go live`);
    }
    const live = await liveVersion(client, def.name);
    if (live && options.requireCaughtUp) {
      const { rows } = await client.query<{ partition: number; live: string; candidate: string | null }>(
        `SELECT l.partition, l.next_offset AS live, c.next_offset AS candidate
         FROM projection_checkpoints l
         LEFT JOIN projection_checkpoints c ON c.projection = l.projection AND c.version = $3 AND c.topic = l.topic AND c.partition = l.partition
         WHERE l.projection = $1 AND l.version = $2 AND l.topic = $4`,
        [def.name, live.version, version, topic],
      );
      const behind = rows
        .map((r) => ({ partition: r.partition, live: BigInt(r.live), candidate: BigInt(r.candidate ?? 0) }))
        .filter((r) => r.candidate < r.live);
      if (behind.length > 0) return { switched: false, behind };
    }
    await client.query('UPDATE projections SET live_version = $2, updated_at = now() WHERE name = $1', [def.name, version]);
    if (live) await setVersionState(client, def.name, live.version, 'retired');
    await client.query(`UPDATE projection_versions SET state = 'live', live_at = now() WHERE projection = $1 AND version = $2`, [
      def.name,
      version,
    ]);
    await publishViews(client, def, candidate.schema);
    await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, encodeSwitch(def.name, version)]);
    return { switched: true, from: live?.version, to: version };
  });
}
