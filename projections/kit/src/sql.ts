/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** schema.table, both quoted; `schema` may already be quoted. */
export function qualified(schema: string, table: string): string {
  const s = schema.startsWith('"') ? schema : quoteIdent(schema);
  return `${s}.${quoteIdent(table)}`;
}

const PLAIN = /^[A-Za-z0-9:._+-]+$/;

/**
 * A PostgreSQL array literal ('{a,b,NULL}') built here rather than by the
 * driver, which quotes and escapes every element: ids, numbers, timestamps
 * and codes need neither, and a batch of thousands of rows spends its time
 * there otherwise. Other strings are quoted and escaped as PostgreSQL expects.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number' || typeof v === 'bigint') out += String(v);
    else if (v instanceof Date) out += v.toISOString();
    else {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      out += PLAIN.test(text) && text.toUpperCase() !== 'NULL' ? text : `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    }
  }
  return `${out}}`;
}

/**
 * Splits rows into one array literal per column, for
 * `INSERT ... SELECT * FROM unnest($1::t[], $2::t[], ...)`: one parameter per
 * column whatever the row count, so a batch of thousands of rows is one short
 * statement PostgreSQL plans once.
 */
export function columns<R, K extends keyof R>(rows: readonly R[], keys: readonly K[]): string[] {
  return keys.map((k) => arrayLiteral(rows.map((r) => r[k])));
}
