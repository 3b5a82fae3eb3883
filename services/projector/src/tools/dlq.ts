import { errorMessage } from '@sluice/core';
import { projectionNamed } from '../projections';
import { getParked, listParked, type ParkedEntry } from '../store/parked';
import type { ToolContext } from './context';
import { deadHeads, redriveKey, type RedriveResult } from './redrive';

const printable = (b: Buffer): string =>
  /^[\x20-\x7e]*$/.test(b.toString('latin1')) ? b.toString('utf8') : `0x${b.toString('hex')}`;

function row(e: ParkedEntry): string {
  return [
    String(e.id).padStart(6),
    `${e.projection} v${e.version}`.padEnd(18),
    `${e.partition}:${e.raw.offset}`.padEnd(10),
    (e.key ?? '-').padEnd(36),
    (e.eventType ?? '-').padEnd(22),
    e.state.padEnd(8),
    e.code.padEnd(20),
    String(e.attempts).padStart(3),
    e.firstFailedAt.toISOString(),
  ].join('  ');
}

export async function dlqList(ctx: ToolContext, filter: { projection?: string; key?: string; all?: boolean }): Promise<number> {
  const entries = await listParked(ctx.pool, {
    ...(filter.projection !== undefined && { projection: filter.projection }),
    ...(filter.key !== undefined && { key: filter.key }),
    states: filter.all ? ['dead', 'held', 'resolved'] : ['dead', 'held'],
  });
  if (entries.length === 0) {
    ctx.print(filter.all ? 'no parked records' : 'no dead letters or held records');
    return 0;
  }
  ctx.print(
    [
      '    id',
      'projection'.padEnd(18),
      'p:offset'.padEnd(10),
      'key'.padEnd(36),
      'type'.padEnd(22),
      'state'.padEnd(8),
      'code'.padEnd(20),
      'try',
      'first failed',
    ].join('  '),
  );
  for (const e of entries) ctx.print(row(e));
  const dead = entries.filter((e) => e.state === 'dead').length;
  const held = entries.filter((e) => e.state === 'held').length;
  ctx.print(`\n${dead} dead, ${held} held behind them; inspect: sluice dlq inspect <id>; re-drive: sluice dlq redrive <id>`);
  return 0;
}

export async function dlqInspect(ctx: ToolContext, id: number): Promise<number> {
  const e = await getParked(ctx.pool, id);
  if (!e) {
    ctx.print(`no parked record ${id}`);
    return 1;
  }
  ctx.print(`parked record ${e.id}: ${e.state}${e.resolution ? ` (${e.resolution} ${e.resolvedAt?.toISOString()})` : ''}`);
  ctx.print(`  projection   ${e.projection} v${e.version} (consumer group ${e.consumerGroup})`);
  ctx.print(
    `  record       ${e.topic} partition ${e.partition} offset ${e.raw.offset}${e.raw.timestamp ? ` at ${e.raw.timestamp.toISOString()}` : ''}`,
  );
  ctx.print(`  key          ${e.key ?? '(none)'}`);
  ctx.print(`  error        ${e.code}: ${e.reason}`);
  ctx.print(`  attempts     ${e.attempts}, first ${e.firstFailedAt.toISOString()}, last ${e.lastFailedAt.toISOString()}`);
  ctx.print('  headers');
  for (const [name, values] of Object.entries(e.raw.headers)) ctx.print(`    ${name}: ${values.map(printable).join(', ')}`);
  if (!e.raw.value) ctx.print('  value        (none)');
  else {
    try {
      const decoded = await ctx.codec.decode(e.raw.value);
      ctx.print(`  event        ${decoded.type} (schema ${decoded.schemaId})`);
      ctx.print(JSON.stringify(decoded.data, null, 2).replace(/^/gm, '    '));
    } catch (err) {
      ctx.print(
        `  value        ${e.raw.value.length} bytes that do not decode (${errorMessage(err)}): 0x${e.raw.value.subarray(0, 64).toString('hex')}`,
      );
    }
  }
  if (e.key !== null) {
    const behind = (await listParked(ctx.pool, { projection: e.projection, version: e.version, key: e.key })).filter(
      (o) => o.id !== e.id,
    );
    if (behind.length > 0)
      ctx.print(`  same key     ${behind.map((o) => `${o.id} (${o.state}, offset ${o.raw.offset})`).join(', ')}`);
  }
  return 0;
}

function printResult(ctx: ToolContext, result: RedriveResult): boolean {
  let clean = true;
  for (const r of result.entries) {
    const extra = r.outcome === 'dead' ? ` again: ${r.code}: ${r.reason}` : '';
    if (r.outcome === 'dead' || r.outcome === 'held') clean = false;
    ctx.print(`  ${String(r.id).padStart(6)}  offset ${r.offset}  ${r.outcome}${extra}`);
  }
  return clean;
}

/** Re-drives one parked record's key, one key, or every key with a dead letter; exit 1 when something is still parked. */
export async function dlqRedrive(
  ctx: ToolContext,
  selection: { id?: number; key?: string; projection?: string; all?: boolean; skip?: boolean },
): Promise<number> {
  let heads: ParkedEntry[];
  if (selection.id !== undefined) {
    const e = await getParked(ctx.pool, selection.id);
    if (!e || e.state === 'resolved') {
      ctx.print(`parked record ${selection.id} is ${e ? 'already resolved' : 'unknown'}`);
      return 1;
    }
    heads = [e];
  } else if (selection.key !== undefined || selection.all) {
    heads = await deadHeads(ctx.pool, {
      ...(selection.projection !== undefined && { projection: selection.projection }),
      ...(selection.key !== undefined && { key: selection.key }),
    });
  } else {
    ctx.print('name a parked record id, --key <key>, or --all');
    return 2;
  }
  if (heads.length === 0) {
    ctx.print('nothing to re-drive');
    return 0;
  }
  let clean = true;
  for (const head of heads) {
    ctx.print(
      `${selection.skip ? 'skipping' : 're-driving'} ${head.projection} v${head.version} key ${head.key ?? `(record ${head.id})`}`,
    );
    const result = await redriveKey(
      ctx.pool,
      ctx.codec,
      projectionNamed(head.projection),
      head,
      selection.skip ? { skip: head.id } : {},
    );
    clean = printResult(ctx, result) && clean;
  }
  return clean ? 0 : 1;
}
