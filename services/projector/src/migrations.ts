import { join } from 'node:path';

/** The projector's own tables (registry of versions, checkpoints, parked records); each projection brings its own set. */
export const PROJECTOR_MIGRATIONS = {
  folder: join(__dirname, '../migrations'),
  table: '__migrations_projector',
};
