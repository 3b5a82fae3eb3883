import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import type { AvroEventCodec } from '@sluice/messaging';
import { CHANGES_CHANNEL, encodeChanges, type ProjectionDefinition } from '@sluice/projection-kit';
import { runProjectionStep } from '../engine/projection-step';
import { decodeRecords } from '../engine/records';
import type { Target } from '../engine/targets';
import { lockCheckpoints } from '../store/checkpoints';
import { lockShared } from '../store/locks';
import {
  getParked,
  listParked,
  lockOpenForKey,
  markDead,
  resolveParked,
  type ParkedEntry,
  type Resolution,
} from '../store/parked';
import { getVersion } from '../store/versions';

export interface RedriveEntryResult {
  readonly id: number;
  readonly offset: bigint;
  readonly outcome: Resolution | 'dead' | 'held';
  readonly code?: string;
  readonly reason?: string;
}

export interface RedriveResult {
  readonly key: string | null;
  readonly entries: RedriveEntryResult[];
}

/**
 * Re-drives the parked records of one key, oldest first, through the
 * projection as it is now (after the fix): in one transaction holding the
 * partition's checkpoint lock (so no batch of that partition interleaves) and
 * the projection's shared lock (so no switch does). Records that now apply are
 * resolved; the first one that fails again stays dead with one more attempt,
 * and the ones behind it stay held. With `skip`, the dead record `skip`
 * names is resolved as skipped without applying, and the rest re-driven.
 */
export async function redriveKey(
  pool: Pool,
  codec: AvroEventCodec,
  def: ProjectionDefinition,
  entry: Pick<ParkedEntry, 'projection' | 'version' | 'topic' | 'partition' | 'key' | 'id'>,
  options: { skip?: number } = {},
): Promise<RedriveResult> {
  return withTransaction(pool, async (client) => {
    await lockShared(client, [def.name]);
    const version = await getVersion(client, entry.projection, entry.version);
    if (!version || (version.state !== 'live' && version.state !== 'building')) {
      throw new Error(
        `${entry.projection} v${entry.version} is ${version?.state ?? 'gone'}; only live and building versions are re-driven`,
      );
    }
    const ref = { projection: entry.projection, version: entry.version };
    // The checkpoint lock first, as batches take it: then no batch can hold a new record behind this key meanwhile.
    await lockCheckpoints(client, [ref], entry.topic, entry.partition);
    const entries =
      entry.key === null
        ? [await getParked(client, entry.id)].filter((e): e is ParkedEntry => e?.state !== undefined && e.state !== 'resolved')
        : await lockOpenForKey(client, ref, entry.key);
    if (entries.length === 0) return { key: entry.key, entries: [] };
    const results: RedriveEntryResult[] = [];
    let toApply = entries;
    if (options.skip !== undefined) {
      const first = entries[0]!;
      if (first.id !== options.skip || first.state !== 'dead') {
        throw new Error(
          `parked record ${options.skip} is not the dead record at the head of its key (that is ${first.id}, ${first.state})`,
        );
      }
      await resolveParked(client, [first.id], 'skipped');
      results.push({ id: first.id, offset: first.raw.offset, outcome: 'skipped' });
      toApply = entries.slice(1);
    }
    if (toApply.length === 0) return { key: entry.key, entries: results };
    const records = await decodeRecords(
      codec,
      toApply.map((e) => e.raw),
    );
    const target: Target = {
      def,
      projection: ref.projection,
      version: ref.version,
      schema: version.schema,
      mode: version.state === 'live' ? 'live' : 'rebuild',
      baseline: version.origin === 'timestamp' || version.origin === 'range',
    };
    const step = await runProjectionStep(client, target, records, {
      isolate: true,
      attempts: Math.max(...toApply.map((e) => e.attempts)) + 1,
      ...(entry.key !== null && { redriveKey: entry.key }),
    });
    const resolved: Record<Resolution, number[]> = { redriven: [], duplicate: [], skipped: [] };
    for (const [i, r] of step.records.entries()) {
      const e = toApply[i]!;
      switch (r.verdict.kind) {
        case 'fold':
        case 'pass':
        case 'ignore':
          resolved[r.outcome === 'duplicate' ? 'duplicate' : 'redriven'].push(e.id);
          results.push({ id: e.id, offset: e.raw.offset, outcome: r.outcome === 'duplicate' ? 'duplicate' : 'redriven' });
          break;
        case 'duplicate':
          resolved.duplicate.push(e.id);
          results.push({ id: e.id, offset: e.raw.offset, outcome: 'duplicate' });
          break;
        case 'dead':
          await markDead(client, e.id, r.verdict.code, r.verdict.detail);
          results.push({ id: e.id, offset: e.raw.offset, outcome: 'dead', code: r.verdict.code, reason: r.verdict.detail });
          break;
        case 'held':
          results.push({ id: e.id, offset: e.raw.offset, outcome: 'held' });
          break;
      }
    }
    await resolveParked(client, resolved.redriven, 'redriven');
    await resolveParked(client, resolved.duplicate, 'duplicate');
    if (target.mode === 'live' && step.changes.length > 0) {
      await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [
        CHANGES_CHANNEL,
        encodeChanges(target.projection, target.version, step.changes),
      ]);
    }
    return { key: entry.key, entries: results };
  });
}

/** The dead records to re-drive for a selection: one per key (the key's head), oldest key first. */
export async function deadHeads(
  pool: Pool,
  filter: { projection?: string; version?: number; key?: string },
): Promise<ParkedEntry[]> {
  const dead = await listParked(pool, { ...filter, states: ['dead'], limit: 100_000 });
  const seen = new Set<string>();
  return dead.filter((e) => {
    const k = `${e.projection}/${e.version}/${e.key ?? `#${e.id}`}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
