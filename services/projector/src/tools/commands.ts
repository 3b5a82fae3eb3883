import { liveLag, quoteIdent } from '@sluice/projection-kit';
import { projectionNamed, PROJECTIONS } from '../projections';
import { countOpenParked } from '../store/parked';
import { dropVersion, listVersions, setVersionState } from '../store/versions';
import type { ToolContext } from './context';
import { rebuild, type RebuildResult } from './rebuild';
import { parseOffsets, replay, type RangeBound } from './replay';
import { switchLive } from './switch';

export async function projectionList(ctx: ToolContext): Promise<number> {
  const versions = await listVersions(ctx.pool);
  const parked = await countOpenParked(ctx.pool);
  const lag = await liveLag(ctx.pool);
  for (const def of PROJECTIONS) {
    const mine = versions.filter((v) => v.projection === def.name);
    const live = mine.find((v) => v.state === 'live');
    const l = lag.find((r) => r.projection === def.name);
    const dead = parked.filter((p) => p.projection === def.name && p.state === 'dead').reduce((n, p) => n + p.count, 0);
    ctx.print(`${def.name.padEnd(14)} ${def.description}`);
    ctx.print(
      `${''.padEnd(14)} live ${live ? `v${live.version} (${live.schema})` : 'none'}; lag ${l ? `${l.records} records` : 'unknown'}; dead letters ${dead}`,
    );
    for (const v of mine.filter((x) => x.state !== 'live')) {
      const progress =
        v.state === 'building' && v.progress.total > 0 ? `, ${((100 * v.progress.applied) / v.progress.total).toFixed(1)}%` : '';
      ctx.print(
        `${''.padEnd(14)} v${v.version} ${v.state}${progress} (${v.schema}, ${v.origin}, created ${v.createdAt.toISOString()})`,
      );
    }
  }
  return 0;
}

export async function projectionVersions(ctx: ToolContext, name: string): Promise<number> {
  projectionNamed(name);
  for (const v of await listVersions(ctx.pool, name)) {
    ctx.print(
      [
        `v${v.version}`.padEnd(5),
        v.state.padEnd(10),
        v.schema.padEnd(28),
        v.origin.padEnd(9),
        `created ${v.createdAt.toISOString()}`,
        v.liveAt ? `live ${v.liveAt.toISOString()}` : '',
        v.retiredAt ? `retired ${v.retiredAt.toISOString()}` : '',
      ].join(' '),
    );
  }
  return 0;
}

function printRebuild(ctx: ToolContext, name: string, r: RebuildResult): number {
  const rate = r.seconds > 0 ? Math.round(r.events / r.seconds) : 0;
  const stats = `${r.events} events in ${r.seconds.toFixed(1)} s (${rate}/s)`;
  switch (r.status) {
    case 'switched':
      ctx.print(`${name} v${r.version} is live: ${stats}`);
      if (r.from !== undefined) ctx.print(`v${r.from} is kept for rollback: sluice projection rollback ${name}`);
      return 0;
    case 'caught_up':
      ctx.print(`${name} v${r.version} caught up (${stats}); make it live with: sluice projection switch ${name} ${r.version}`);
      return 0;
    case 'interrupted':
      ctx.print(`interrupted; ${name} v${r.version} stays building and the next rebuild resumes it (or --fresh)`);
      return 130;
    case 'superseded':
      ctx.print(`${name} v${r.version} was switched or abandoned elsewhere; stopped`);
      return 0;
  }
}

export async function projectionRebuild(
  ctx: ToolContext,
  name: string,
  options: { from?: Date; noSwitch?: boolean; fresh?: boolean; snapshot?: boolean; signal?: AbortSignal },
): Promise<number> {
  const def = projectionNamed(name);
  return printRebuild(ctx, name, await rebuild(ctx, def, options));
}

export async function projectionRollback(
  ctx: ToolContext,
  name: string,
  to: number | undefined,
  signal?: AbortSignal,
): Promise<number> {
  const def = projectionNamed(name);
  const versions = await listVersions(ctx.pool, name);
  const target =
    to ??
    versions.filter((v) => v.state === 'retired').sort((a, b) => (b.retiredAt?.getTime() ?? 0) - (a.retiredAt?.getTime() ?? 0))[0]
      ?.version;
  if (target === undefined) {
    ctx.print(`${name} has no retired version to roll back to`);
    return 1;
  }
  return printRebuild(ctx, name, await rebuild(ctx, def, { version: target, ...(signal && { signal }) }));
}

export async function projectionSwitch(ctx: ToolContext, name: string, version: number, force: boolean): Promise<number> {
  const result = await switchLive(ctx.pool, projectionNamed(name), version, ctx.topic, { requireCaughtUp: !force });
  if (result.switched) {
    ctx.print(`${name} v${result.to} is live${result.from !== undefined ? `; v${result.from} kept for rollback` : ''}`);
    return 0;
  }
  ctx.print(
    `${name} v${version} is behind the live version on ${result.behind.length} partition(s); let it catch up (sluice projection rollback ${name} --to ${version}) or --force`,
  );
  for (const b of result.behind) ctx.print(`  partition ${b.partition}: live at ${b.live}, v${version} at ${b.candidate}`);
  return 1;
}

export async function projectionAbandon(ctx: ToolContext, name: string, version: number): Promise<number> {
  projectionNamed(name);
  const v = (await listVersions(ctx.pool, name)).find((x) => x.version === version);
  if (!v || v.state !== 'building') {
    ctx.print(`${name} v${version} is ${v?.state ?? 'unknown'}; only a building version is abandoned`);
    return 1;
  }
  await setVersionState(ctx.pool, name, version, 'abandoned');
  ctx.print(`${name} v${version} abandoned; drop its tables with: sluice projection drop ${name} ${version}`);
  return 0;
}

export async function projectionDrop(ctx: ToolContext, name: string, version: number): Promise<number> {
  projectionNamed(name);
  await dropVersion(ctx.pool, name, version);
  ctx.print(`dropped ${name} v${version}`);
  return 0;
}

function bound(value: string): RangeBound {
  if (/^\d+:\d+/.test(value)) return { offsets: parseOffsets(value) };
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new Error(`"${value}" is neither a time (ISO 8601) nor partition:offset,...`);
  return { time };
}

export async function projectionReplay(
  ctx: ToolContext,
  name: string,
  options: { from: string; to?: string; key?: string; into?: string; signal?: AbortSignal },
): Promise<number> {
  const result = await replay(ctx, projectionNamed(name), {
    from: bound(options.from),
    ...(options.to !== undefined && { to: bound(options.to) }),
    ...(options.key !== undefined && { key: options.key }),
    ...(options.into !== undefined && { into: options.into }),
    ...(options.signal && { signal: options.signal }),
  });
  const schema = quoteIdent(result.schema);
  ctx.print(
    `replayed ${result.records} records into ${result.schema}: ${
      Object.entries(result.outcomes)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') || 'nothing'
    }`,
  );
  ctx.print(`  psql: SELECT * FROM ${schema}.replayed_events ORDER BY record_timestamp;`);
  ctx.print(`  drop it: sluice projection drop ${name} ${result.version}`);
  return 0;
}
