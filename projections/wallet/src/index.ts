import { join } from 'node:path';

export * from './table';
export * from './fold';
export * from './store';

/** The read model's own migration set; the projector applies it at start-up. */
export const WALLET_PROJECTION_MIGRATIONS = {
  folder: join(__dirname, '../migrations'),
  table: '__migrations_projection_wallet',
};
