/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** schema.table, both quoted; `schema` may already be quoted. */
export function qualified(schema: string, table: string): string {
  const s = schema.startsWith('"') ? schema : quoteIdent(schema);
  return `${s}.${quoteIdent(table)}`;
}

/**
 * Splits rows into column arrays for `INSERT ... SELECT * FROM unnest($1::t[], $2::t[], ...)`:
 * one parameter per column whatever the row count, so a batch of thousands of
 * rows is one short statement PostgreSQL plans once.
 */
export function columns<R, K extends keyof R>(rows: readonly R[], keys: readonly K[]): unknown[][] {
  const out = keys.map(() => new Array<unknown>(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let k = 0; k < keys.length; k++) out[k]![i] = row[keys[k]!];
  }
  return out;
}
