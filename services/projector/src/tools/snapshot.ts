import type { ProjectionDefinition } from '@sluice/projection-kit';
import { projectionNamed } from '../projections';
import { chooseSnapshot, dropSnapshot, listSnapshots, pruneSnapshots, restoreSnapshot, takeSnapshot } from '../snapshots/store';
import { createVersion, type ProjectionVersion } from '../store/versions';
import type { ToolContext } from './context';

const mib = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MiB`;

/**
 * A rebuild's head start: a new version filled from the newest snapshot whose
 * fingerprint matches this build's fold, its checkpoints at the snapshot's
 * offsets, so the consumer replays only what came after it. Undefined when no
 * snapshot fits (none taken, the fold changed, or the records after it are
 * gone from the topic): the rebuild then starts from the earliest offset.
 */
export async function seedFromSnapshot(ctx: ToolContext, def: ProjectionDefinition): Promise<ProjectionVersion | undefined> {
  const offsets = await ctx.admin.fetchTopicOffsets(ctx.topic);
  const ranges = offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
  const { snapshot, refused } = await chooseSnapshot(ctx.pool, def, ctx.topic, ranges);
  for (const r of refused) ctx.print(`snapshot ${r.id} not used: ${r.reason}`);
  if (!snapshot) return undefined;
  const started = performance.now();
  const version = await createVersion(ctx.pool, def, { state: 'building', origin: 'snapshot' });
  await restoreSnapshot(ctx.pool, def, snapshot, version);
  const rows = Object.values(snapshot.rowCounts).reduce((n, c) => n + c, 0);
  ctx.print(
    `building ${def.name} v${version.version} in schema ${version.schema} from snapshot ${snapshot.id} ` +
      `(of v${snapshot.version}, ${snapshot.createdAt.toISOString()}, ${snapshot.records} records): ` +
      `${rows} rows restored in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  ctx.logger.info(
    { projection: def.name, version: version.version, snapshot: snapshot.id, records: snapshot.records, rows },
    'rebuild starts from a snapshot',
  );
  return version;
}

export async function projectionSnapshot(ctx: ToolContext, name: string, version?: number): Promise<number> {
  const def = projectionNamed(name);
  ctx.print(`snapshot of ${name} ${version === undefined ? 'live version' : `v${version}`}`);
  const s = await takeSnapshot(ctx.pool, def, ctx.topic, {
    ...(version !== undefined && { version }),
    onProgress: (line) => ctx.print(`  ${line}`),
  });
  if (!s) {
    ctx.print(`another snapshot of ${name} is being taken; try again when it is done`);
    return 1;
  }
  ctx.print(
    `snapshot ${s.id} of ${name} v${s.version}: ${s.records} records, ${mib(s.bytes)} in ${(s.durationMs / 1000).toFixed(1)} s (${s.schema})`,
  );
  const pruned = await pruneSnapshots(ctx.pool, name, ctx.config.PROJECTOR_SNAPSHOT_KEEP);
  if (pruned > 0) ctx.print(`dropped ${pruned} older snapshot(s); the newest ${ctx.config.PROJECTOR_SNAPSHOT_KEEP} are kept`);
  return 0;
}

export async function projectionSnapshots(ctx: ToolContext, name?: string): Promise<number> {
  if (name !== undefined) projectionNamed(name);
  for (const s of await listSnapshots(ctx.pool, name)) {
    const ageS = Math.round((Date.now() - s.createdAt.getTime()) / 1000);
    ctx.print(
      [
        `#${s.id}`.padEnd(6),
        s.projection.padEnd(14),
        `v${s.version}`.padEnd(5),
        `${s.records} records`.padEnd(18),
        mib(s.bytes).padEnd(11),
        `fold ${s.fingerprint.slice(0, 12)}`,
        `${s.createdAt.toISOString()} (${ageS} s ago)`,
      ].join(' '),
    );
  }
  return 0;
}

export async function projectionSnapshotDrop(ctx: ToolContext, id: number): Promise<number> {
  const s = await dropSnapshot(ctx.pool, id);
  ctx.print(`dropped snapshot ${id} of ${s.projection} (${s.schema})`);
  return 0;
}
