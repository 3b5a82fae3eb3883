import { setTimeout as sleep } from 'node:timers/promises';
import { partitionForKey } from '@sluice/messaging';
import { qualified, type ProjectionDefinition } from '@sluice/projection-kit';
import { REPLAY_EVENTS_TABLE } from '../engine/partition-applier';
import { ensurePositions, loadPositions } from '../store/checkpoints';
import { createVersion } from '../store/versions';
import type { ToolContext } from './context';
import { pinnedEngine } from './pinned-engine';
import { ProgressPrinter, RateMeter, renderProgress } from './progress-bar';

/** Where a bounded replay starts or ends: a time, or an offset per partition. */
export type RangeBound = { readonly time: Date } | { readonly offsets: ReadonlyMap<number, bigint> };

export interface ReplayOptions {
  readonly from: RangeBound;
  /** Defaults to the end of the topic when the replay starts. */
  readonly to?: RangeBound;
  /** Only the partition of this key (its records are the ones worth reading; the others are not replayed). */
  readonly key?: string;
  /** Schema of the side tables; defaults to replay_<projection>_<version>. */
  readonly into?: string;
  readonly signal?: AbortSignal;
  readonly printer?: ProgressPrinter;
}

export interface ReplayResult {
  readonly schema: string;
  readonly version: number;
  readonly records: number;
  readonly outcomes: Record<string, number>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** "0:120,3:55" → partition → offset. */
export function parseOffsets(spec: string): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+):(\d+)$/.exec(part);
    if (!m) throw new Error(`"${part}" is not partition:offset`);
    out.set(Number(m[1]), BigInt(m[2]!));
  }
  return out;
}

/**
 * Folds a bounded range of the topic into side tables for an investigation:
 * the projection's own tables (in a schema of their own, never live) plus
 * `replayed_events`, every record of the range decoded, with what the
 * projection made of it (applied, duplicate, dead with the reason, ...).
 * The range starts mid-stream, so each aggregate's first event in it is taken
 * as its starting point. Nothing outside the side schema changes.
 */
export async function replay(ctx: ToolContext, def: ProjectionDefinition, options: ReplayOptions): Promise<ReplayResult> {
  const { pool, admin, topic, config } = ctx;
  if (options.into !== undefined && !SCHEMA_NAME.test(options.into)) throw new Error(`"${options.into}" is not a schema name`);
  const offsets = await admin.fetchTopicOffsets(topic);
  const resolve = async (bound: RangeBound | undefined, fallback: 'low' | 'high'): Promise<Map<number, bigint>> => {
    if (bound && 'offsets' in bound) return new Map(bound.offsets);
    if (bound) {
      const at = await admin.fetchTopicOffsetsByTimestamp(topic, bound.time.getTime());
      return new Map(at.map((o) => [o.partition, BigInt(o.offset)]));
    }
    return new Map(offsets.map((o) => [o.partition, BigInt(fallback === 'low' ? o.low : o.high)]));
  };
  const starts = await resolve(options.from, 'low');
  const ends = await resolve(options.to, 'high');
  const only = options.key === undefined ? undefined : partitionForKey(options.key, offsets.length);
  const range = new Map<number, { start: bigint; end: bigint }>();
  for (const o of offsets) {
    const start = starts.get(o.partition) ?? BigInt(o.low);
    const end = only !== undefined && o.partition !== only ? start : (ends.get(o.partition) ?? BigInt(o.high));
    range.set(o.partition, { start, end: end > start ? end : start });
  }

  const version = await createVersion(pool, def, {
    state: 'replay',
    origin: 'range',
    ...('time' in options.from && { startedFrom: options.from.time }),
    schema: (v) => options.into ?? `replay_${def.name}_${v}`,
  });
  const { schema } = version;
  await pool.query(
    `CREATE TABLE ${qualified(schema, REPLAY_EVENTS_TABLE)} (
       partition integer NOT NULL, "offset" bigint NOT NULL, key text, event_type text, aggregate_version integer,
       outcome text NOT NULL, reason text, data jsonb, record_timestamp timestamptz, PRIMARY KEY (partition, "offset"))`,
  );
  await ensurePositions(pool, version, topic, new Map([...range].map(([p, r]) => [p, { start: r.start, end: r.end }])));
  const total = [...range.values()].reduce((n, r) => n + Number(r.end - r.start), 0);
  ctx.print(`replaying ${total} records of ${topic} into schema ${schema} (${def.name} v${version.version})`);

  const engine = pinnedEngine(ctx, def, version.version, 'replay');
  const printer = options.printer ?? new ProgressPrinter();
  const meter = new RateMeter();
  const label = `replay ${def.name}`;
  if (total > 0) await engine.start();
  try {
    for (let applied = 0; total > 0; ) {
      await sleep(config.REBUILD_PROGRESS_INTERVAL_MS / 4, undefined, { signal: options.signal }).catch(() => undefined);
      const positions = await loadPositions(pool, version, topic);
      applied = 0;
      let done = true;
      for (const [p, r] of range) {
        const next = positions.get(p)?.nextOffset ?? r.start;
        applied += Number((next < r.end ? next : r.end) - r.start);
        if (next < r.end) done = false;
      }
      printer.update(renderProgress({ label, applied, total, rate: meter.observe(applied, Date.now()) }));
      if (done || options.signal?.aborted) {
        printer.done(renderProgress({ label, applied, total, rate: meter.observe(applied, Date.now()) }));
        break;
      }
    }
  } finally {
    if (total > 0) {
      await engine.stop();
      await ctx.admin.deleteGroups([engine.groupId]).catch(() => undefined);
    }
  }
  const { rows } = await pool.query<{ outcome: string; n: string }>(
    `SELECT outcome, count(*) AS n FROM ${qualified(schema, REPLAY_EVENTS_TABLE)} GROUP BY outcome ORDER BY outcome`,
  );
  const outcomes = Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
  return { schema, version: version.version, records: Object.values(outcomes).reduce((a, b) => a + b, 0), outcomes };
}
