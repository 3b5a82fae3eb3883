import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ProjectionDefinition } from '@sluice/projection-kit';

/** Bumped when what a snapshot holds changes shape (the tables copied, the guard's heads, the parked records). */
export const SNAPSHOT_FORMAT = 1;

/**
 * What a snapshot's rows are the output of: a hash of the projection's fold
 * (its `apply`, and every source file of its folder, which holds the fold and
 * its SQL), its tables, event types and migrations. A rebuild restores only a
 * snapshot with the fingerprint of the fold it runs: any edit of the folder
 * (even a comment) makes older snapshots unusable and the rebuild replays from
 * the earliest offset, which is always correct. Conservative on purpose: a
 * fold that folds differently but hashes the same would put the old fold's
 * rows under the new one. Not covered: a change in a library the fold calls
 * (say @sluice/wallet-domain); bump SNAPSHOT_FORMAT or drop the snapshots then.
 */
export function projectionFingerprint(def: ProjectionDefinition): string {
  const hash = createHash('sha256');
  const part = (label: string, value: string | Buffer) => {
    hash.update(`${label}\0${value.length}\0`);
    hash.update(value);
  };
  part('format', String(SNAPSHOT_FORMAT));
  part('name', def.name);
  part('tables', def.tables.join(','));
  part('events', [...def.eventTypes].sort().join(','));
  // eslint-disable-next-line @typescript-eslint/unbound-method -- only its text is hashed; it is never called
  part('apply', String(def.apply));
  for (const file of filesUnder(def.migrations.folder, (f) => f.endsWith('.sql'))) {
    part(`migration:${file.name}`, readFileSync(file.path));
  }
  // The fold's folder beside its migrations: TypeScript in tests, the compiled JavaScript in a build.
  const source = resolve(def.migrations.folder, '../src');
  for (const file of filesUnder(source, (f) => /\.(ts|js)$/.test(f) && !/\.spec\.|\.d\.ts$/.test(f))) {
    part(`source:${file.name}`, readFileSync(file.path));
  }
  return hash.digest('hex');
}

/** Files of a folder and its subfolders, by path relative to it, in a stable order. */
function filesUnder(root: string, keep: (name: string) => boolean): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  const walk = (dir: string, prefix: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries.sort()) {
      const path = join(dir, e);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${e}/`);
      else if (keep(e)) out.push({ name: `${prefix}${e}`, path });
    }
  };
  walk(root, '');
  return out;
}
