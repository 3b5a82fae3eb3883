import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkCompatibility, formatIncompatibility, loadReleased, unreleased } from '../src/compatibility';
import { loadSchemaFiles } from '../src/load';

/**
 * The schema evolution gate (make check runs it) and the release step:
 *   node dist/schemas/scripts/compatibility.js check [root]     exit 1 when a current schema cannot read a released version
 *   node dist/schemas/scripts/compatibility.js release [root]   record every changed or new schema as its next released version
 */
export function run(command: string, root: string, out: (line: string) => void): number {
  const current = loadSchemaFiles(join(root, 'schemas/avro'));
  const releasedDir = join(root, 'schemas/released');
  const released = loadReleased(releasedDir);
  const problems = checkCompatibility(current, released);
  if (problems.length > 0) {
    out(`schemas: ${problems.length} incompatible change(s) under BACKWARD_TRANSITIVE (the registry's rule for event subjects):`);
    for (const p of problems) out(`  ${formatIncompatibility(p)}`);
    out('Make the change compatible (a new field needs a default; a type may only widen), or make it a new event type.');
    return 1;
  }
  const pending = unreleased(current, released);
  if (command === 'release') {
    for (const { file, version } of pending) {
      const dir = join(releasedDir, file.aggregateType, file.schema.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `v${version}.avsc`), `${JSON.stringify(file.schema, null, 2)}\n`);
      out(`schemas: released ${file.aggregateType}/${file.schema.name} v${version}`);
    }
    if (pending.length === 0) out('schemas: nothing changed since the last release');
    return 0;
  }
  out(`schemas: ${current.length} schemas read every released version (${released.length} in schemas/released)`);
  for (const { file, version } of pending) out(`  ${file.aggregateType}/${file.schema.name} would be released as v${version}`);
  return 0;
}

if (require.main === module) {
  const [command = 'check', root = '.'] = process.argv.slice(2);
  if (command !== 'check' && command !== 'release') {
    process.stderr.write('usage: compatibility.js check|release [root]\n');
    process.exit(2);
  }
  process.exit(run(command, resolve(root), (line) => process.stdout.write(`${line}\n`)));
}
