import { randomBytes } from 'node:crypto';

/** A name no other test run uses: for topics, groups, slots and databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
