import { setTimeout as sleep } from 'node:timers/promises';
import type { ProjectionDefinition } from '@sluice/projection-kit';
import { ensurePositions, loadPositions } from '../store/checkpoints';
import {
  createVersion,
  getVersion,
  listVersions,
  recordProgress,
  setVersionState,
  type ProjectionVersion,
} from '../store/versions';
import type { ToolContext } from './context';
import { pinnedEngine } from './pinned-engine';
import { ProgressPrinter, RateMeter, renderProgress } from './progress-bar';
import { seedFromSnapshot } from './snapshot';
import { switchLive } from './switch';

export interface RebuildOptions {
  /** Start from the first offset at or after this time instead of the earliest (projections with partialHistory only). */
  from?: Date;
  /** Build and catch up, but leave the switch to `sluice projection switch`. */
  noSwitch?: boolean;
  /** Start from the newest compatible snapshot when there is one (default true); false replays from the earliest offset. */
  snapshot?: boolean;
  /** Abandon a building version left by an interrupted rebuild instead of resuming it. */
  fresh?: boolean;
  /** Catch up this existing version (rollback) instead of building a new one. */
  version?: number;
  /** Aborting stops the rebuild gracefully; the version stays building and a later run resumes it. */
  signal?: AbortSignal;
  printer?: ProgressPrinter;
}

export type RebuildResult =
  | {
      readonly status: 'switched';
      readonly version: number;
      readonly from: number | undefined;
      readonly events: number;
      readonly seconds: number;
    }
  | { readonly status: 'caught_up'; readonly version: number; readonly events: number; readonly seconds: number }
  | {
      readonly status: 'interrupted' | 'superseded';
      readonly version: number;
      readonly events: number;
      readonly seconds: number;
    };

/**
 * Builds a version of a projection beside the live one, in its own schema and
 * with its own consumer group (the live group is never touched), from the
 * earliest offset or a timestamp; when it has caught up with the topic it
 * switches atomically (switchLive) and the old version stays for rollback.
 * A rebuild publishes no dead letters and sends no notifications: readers
 * and other consumers notice nothing until the switch.
 */
export async function rebuild(ctx: ToolContext, def: ProjectionDefinition, options: RebuildOptions = {}): Promise<RebuildResult> {
  const { pool, admin, topic, config } = ctx;
  if (options.from && !def.partialHistory) {
    throw new Error(`${def.name} needs every event of an aggregate; it can only be rebuilt from the earliest offset`);
  }
  const version = await prepareVersion(ctx, def, options);
  const offsets = await admin.fetchTopicOffsets(topic);
  const starts = new Map<number, { start: bigint }>();
  const stamps = options.from ? await admin.fetchTopicOffsetsByTimestamp(topic, options.from.getTime()) : undefined;
  for (const o of offsets) {
    const at = stamps?.find((s) => s.partition === o.partition)?.offset;
    starts.set(o.partition, { start: BigInt(at ?? o.low) });
  }
  await ensurePositions(pool, version, topic, starts);

  const started = Date.now();
  let gone = false;
  const engine = pinnedEngine(ctx, def, version.version, 'rebuild', () => {
    gone = true;
  });
  const groupId = engine.groupId;
  const printer = options.printer ?? new ProgressPrinter();
  const meter = new RateMeter();
  const label = `${def.name} v${version.version}`;
  const initial = await measure(ctx, version);
  const baseline = initial.applied;
  await engine.start();
  // Checked often, so the switch follows the catch-up closely; drawn and recorded at the progress interval.
  const checkMs = Math.min(250, config.REBUILD_PROGRESS_INTERVAL_MS);
  let rate = 0;
  let drawnAt = 0;
  try {
    for (;;) {
      await sleep(checkMs, undefined, { signal: options.signal }).catch(() => undefined);
      const now = Date.now();
      const { applied, total, lag } = await measure(ctx, version);
      if (now - drawnAt >= config.REBUILD_PROGRESS_INTERVAL_MS || lag <= config.REBUILD_SWITCH_LAG) {
        drawnAt = now;
        rate = meter.observe(applied, now);
        printer.update(renderProgress({ label, applied, total, rate }), now);
        await recordProgress(pool, def.name, version.version, { applied, total, rate });
      }
      const summary = { version: version.version, events: applied - baseline, seconds: (now - started) / 1000 };
      if (gone) {
        printer.done(renderProgress({ label, applied, total, rate }));
        return { status: 'superseded', ...summary };
      }
      if (options.signal?.aborted) {
        printer.done(renderProgress({ label, applied, total, rate }));
        return { status: 'interrupted', ...summary };
      }
      if (lag > config.REBUILD_SWITCH_LAG) continue;
      if (options.noSwitch) {
        printer.done(renderProgress({ label, applied, total, rate }));
        return { status: 'caught_up', ...summary };
      }
      const switched = await switchLive(pool, def, version.version, topic);
      if (switched.switched) {
        printer.done(renderProgress({ label, applied, total, rate }));
        return { status: 'switched', from: switched.from, ...summary };
      }
      ctx.logger.debug(
        { behind: switched.behind.map((b) => ({ ...b, live: String(b.live), candidate: String(b.candidate) })) },
        'not past the live version yet',
      );
    }
  } finally {
    await engine.stop();
    await ctx.admin.deleteGroups([groupId]).catch(() => undefined);
  }
}

/** A new building version, the building version an interrupted rebuild left, or (rollback) an existing version to catch up. */
async function prepareVersion(ctx: ToolContext, def: ProjectionDefinition, options: RebuildOptions): Promise<ProjectionVersion> {
  const { pool } = ctx;
  if (options.version !== undefined) {
    const v = await getVersion(pool, def.name, options.version);
    if (!v) throw new Error(`${def.name} has no version ${options.version}`);
    if (v.state === 'live') throw new Error(`${def.name} v${v.version} is already live`);
    if (v.state !== 'retired' && v.state !== 'building') throw new Error(`${def.name} v${v.version} is ${v.state}`);
    await setVersionState(pool, def.name, v.version, 'building');
    ctx.print(`catching up ${def.name} v${v.version} from its checkpoints`);
    return { ...v, state: 'building' };
  }
  const building = (await listVersions(pool, def.name)).filter((v) => v.state === 'building');
  for (const b of building) {
    if (options.fresh || (options.from?.getTime() ?? null) !== (b.startedFrom?.getTime() ?? null)) {
      await setVersionState(pool, def.name, b.version, 'abandoned');
      ctx.print(`abandoned ${def.name} v${b.version} (an earlier rebuild that did not finish)`);
    } else {
      ctx.print(`resuming ${def.name} v${b.version} from its checkpoints`);
      return b;
    }
  }
  if (!options.from && options.snapshot !== false) {
    const seeded = await seedFromSnapshot(ctx, def);
    if (seeded) return seeded;
  }
  const v = await createVersion(pool, def, {
    state: 'building',
    origin: options.from ? 'timestamp' : 'earliest',
    ...(options.from && { startedFrom: options.from }),
  });
  ctx.print(
    `building ${def.name} v${v.version} in schema ${v.schema}${options.from ? ` from ${options.from.toISOString()}` : ' from the earliest offset'}`,
  );
  return v;
}

/** Records applied since the version's start and still to go, summed over partitions, against the current high watermarks. */
async function measure(ctx: ToolContext, version: ProjectionVersion): Promise<{ applied: number; total: number; lag: number }> {
  const [offsets, positions, starts] = await Promise.all([
    ctx.admin.fetchTopicOffsets(ctx.topic),
    loadPositions(ctx.pool, version, ctx.topic),
    ctx.pool.query<{ partition: number; start_offset: string }>(
      'SELECT partition, start_offset FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND topic = $3',
      [version.projection, version.version, ctx.topic],
    ),
  ]);
  const startOf = new Map(starts.rows.map((r) => [r.partition, BigInt(r.start_offset)]));
  let applied = 0n;
  let total = 0n;
  let lag = 0n;
  for (const o of offsets) {
    const high = BigInt(o.high);
    const start = startOf.get(o.partition) ?? BigInt(o.low);
    const next = positions.get(o.partition)?.nextOffset ?? start;
    applied += next > start ? next - start : 0n;
    total += high > start ? high - start : 0n;
    lag += high > next ? high - next : 0n;
  }
  return { applied: Number(applied), total: Number(total), lag: Number(lag) };
}
