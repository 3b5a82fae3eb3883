import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SchemaFile } from './codegen';

/** Reads schemas/avro/<aggregate>/*.avsc. */
export function loadSchemaFiles(avroDir: string): SchemaFile[] {
  const files: SchemaFile[] = [];
  for (const aggregateType of readdirSync(avroDir).sort()) {
    for (const name of readdirSync(join(avroDir, aggregateType)).sort()) {
      if (!name.endsWith('.avsc')) continue;
      const schema = JSON.parse(readFileSync(join(avroDir, aggregateType, name), 'utf8')) as SchemaFile['schema'];
      if (`${schema.name}.avsc` !== name)
        throw new Error(`${aggregateType}/${name} defines ${schema.name}; name the file after the record`);
      files.push({ aggregateType, schema });
    }
  }
  return files;
}
