import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generate } from '../src/codegen';
import { loadSchemaFiles } from '../src/load';

// Run from the repository root: node dist/schemas/scripts/generate.js
const root = resolve(process.argv[2] ?? '.');
const target = join(root, 'schemas/src/generated.ts');
writeFileSync(target, generate(loadSchemaFiles(join(root, 'schemas/avro'))));
console.log(`wrote ${target}`);
