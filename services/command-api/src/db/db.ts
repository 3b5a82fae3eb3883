import type { NodePgDatabase } from 'drizzle-orm/node-postgres';

/** A drizzle handle on one connection, usually inside a transaction. */
export type Db = NodePgDatabase<Record<string, unknown>>;
