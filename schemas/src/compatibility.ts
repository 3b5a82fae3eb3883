import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import type { SchemaFile } from './codegen';

/**
 * The registry's rule for event subjects is BACKWARD_TRANSITIVE: a consumer built with the
 * current schema must read every event written with any released version of it, because those
 * events stay on the topic and a rebuild replays them all. This is that check, done locally and
 * before release, so that an incompatible change fails `make check` with the field named instead
 * of failing the writer's registration in production.
 *
 * Released versions live in schemas/released/<aggregate>/<Record>/v<N>.avsc, one file per
 * version ever released (`make schemas-release` adds them).
 */

type Schema = { name: string; fields?: { name: string; type: unknown; default?: unknown; aliases?: string[] }[] };

export interface ReleasedSchema {
  aggregateType: string;
  name: string;
  version: number;
  schema: Schema;
}

export interface Incompatibility {
  /** aggregate/Record */
  schema: string;
  /** The released version the current schema cannot read. */
  version: number;
  /** The reader's field at fault, when one is. */
  field?: string;
  reason: string;
}

/** Reads schemas/released/<aggregate>/<Record>/v<N>.avsc, in version order. */
export function loadReleased(releasedDir: string): ReleasedSchema[] {
  if (!existsSync(releasedDir)) return [];
  const out: ReleasedSchema[] = [];
  for (const aggregateType of readdirSync(releasedDir).sort()) {
    for (const name of readdirSync(join(releasedDir, aggregateType)).sort()) {
      const dir = join(releasedDir, aggregateType, name);
      const versions = readdirSync(dir)
        .map((f) => /^v(\d+)\.avsc$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      versions.forEach((version, i) => {
        if (version !== i + 1) throw new Error(`${aggregateType}/${name}: released versions must be v1..vN without gaps`);
        const schema = JSON.parse(readFileSync(join(dir, `v${version}.avsc`), 'utf8')) as Schema;
        if (schema.name !== name) throw new Error(`${aggregateType}/${name}/v${version}.avsc defines ${schema.name}`);
        out.push({ aggregateType, name, version, schema });
      });
    }
  }
  return out;
}

const typeOf = (schema: unknown) => avro.Type.forSchema(schema as avro.Schema);

const describe = (type: unknown): string =>
  typeof type === 'string' ? type : Array.isArray(type) ? `[${type.map(describe).join(', ')}]` : JSON.stringify(type);

/**
 * Why a reader with `reader` cannot read data written with `writer` (Avro schema resolution), by
 * field where a field is at fault; empty when it can.
 */
export function readProblems(
  readerSchema: { name: string; fields?: readonly object[] },
  writerSchema: { name: string; fields?: readonly object[] },
): { field?: string; reason: string }[] {
  const reader = readerSchema as Schema;
  const writer = writerSchema as Schema;
  const readerType = typeOf(reader) as avro.types.RecordType;
  const writerType = typeOf(writer) as avro.types.RecordType;
  const problems: { field?: string; reason: string }[] = [];
  const writerFields = new Map((writer.fields ?? []).map((f) => [f.name, f]));
  for (const field of reader.fields ?? []) {
    const written = [field.name, ...(field.aliases ?? [])].map((n) => writerFields.get(n)).find((f) => f !== undefined);
    if (!written) {
      if (!('default' in field)) {
        problems.push({ field: field.name, reason: `added without a default, so an event written without it cannot be read` });
      }
      continue;
    }
    try {
      readerType.field(field.name).type.createResolver(writerType.field(written.name).type);
    } catch {
      problems.push({
        field: field.name,
        reason: `changed type from ${describe(written.type)} to ${describe(field.type)}, which Avro cannot resolve`,
      });
    }
  }
  if (problems.length === 0) {
    try {
      readerType.createResolver(writerType);
    } catch (cause) {
      problems.push({ reason: `Avro schema resolution fails: ${(cause as Error).message}` });
    }
  }
  return problems;
}

/**
 * Every released version the current schemas cannot read (BACKWARD_TRANSITIVE), and every
 * released event type that no current schema reads any more.
 */
export function checkCompatibility(current: readonly SchemaFile[], released: readonly ReleasedSchema[]): Incompatibility[] {
  const byKey = new Map(current.map((f) => [`${f.aggregateType}/${f.schema.name}`, f.schema as unknown as Schema]));
  const problems: Incompatibility[] = [];
  for (const r of released) {
    const key = `${r.aggregateType}/${r.name}`;
    const reader = byKey.get(key);
    if (!reader) {
      problems.push({
        schema: key,
        version: r.version,
        reason: 'was released and is gone: its events stay on the topic and a rebuild must still read them',
      });
      continue;
    }
    for (const p of readProblems(reader, r.schema)) problems.push({ schema: key, version: r.version, ...p });
  }
  return problems;
}

export const formatIncompatibility = (p: Incompatibility): string =>
  `${p.schema}${p.field ? ` field "${p.field}"` : ''}: ${p.reason} (released v${p.version})`;

/** A schema's canonical text for comparing versions: docs and order of keys in objects do not make a new version. */
export function canonical(schema: unknown): string {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => k !== 'doc')
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, strip(v)]),
      );
    }
    return value;
  };
  return JSON.stringify(strip(schema));
}

/** The schemas whose current form is not their newest release (new types included): what a release adds. */
export function unreleased(
  current: readonly SchemaFile[],
  released: readonly ReleasedSchema[],
): { file: SchemaFile; version: number }[] {
  const newest = new Map<string, ReleasedSchema>();
  for (const r of released) newest.set(`${r.aggregateType}/${r.name}`, r);
  return current.flatMap((file) => {
    const last = newest.get(`${file.aggregateType}/${file.schema.name}`);
    if (last && canonical(last.schema) === canonical(file.schema)) return [];
    return [{ file, version: (last?.version ?? 0) + 1 }];
  });
}
