import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { classifyPgError } from './pg-errors';

type Queryable = Pick<PoolClient, 'query'>;

/** Statement names by text; bounded, and a name always derives from its text (and its replans). */
const names = new Map<string, string>();
/** Texts whose prepared statement PostgreSQL refused, with how many times: the count goes into the next name. */
const replans = new Map<string, number>();
const MAX_NAMES = 1_000;

/**
 * The prepared-statement name of a statement text: `sluice_<label>_<hash>`,
 * the same for the same text in every connection, so a connection prepares
 * each text once and executes it without parsing or planning again.
 */
export function statementName(text: string, label: string): string {
  let name = names.get(text);
  if (name === undefined) {
    const replanned = replans.get(text);
    name = `sluice_${label}_${createHash('sha1').update(text).digest('hex').slice(0, 10)}${replanned ? `_${replanned}` : ''}`;
    if (names.size >= MAX_NAMES) names.clear();
    names.set(text, name);
  }
  return name;
}

/**
 * PostgreSQL refuses a prepared statement whose tables changed shape under
 * it (a column added under `SELECT *`: "cached plan must not change result
 * type"), or that the connection no longer holds (DEALLOCATE, DISCARD ALL).
 * The client library still believes it prepared, so the text gets a new name
 * and its next use prepares it again.
 */
export function isStalePreparedStatement(err: unknown): boolean {
  return classifyPgError(err)?.code === 'stale_prepared_statement';
}

function replan(text: string): void {
  if (replans.size >= MAX_NAMES) replans.clear();
  replans.set(text, (replans.get(text) ?? 0) + 1);
  names.delete(text);
}

/**
 * A client whose parameterised statements (text and values) run as named
 * prepared statements: the server parses and plans each text once per
 * connection instead of on every execution. Statements without values
 * (BEGIN, SAVEPOINT, SET) and query objects pass through as they are. Use it
 * where the texts are few and fixed (arrays as parameters, not a text per
 * batch size): every distinct text stays prepared on its connection.
 */
export function withPreparedStatements<T extends Queryable>(db: T, label: string): T {
  const query = (...args: unknown[]): unknown => {
    const [text, values] = args;
    const passThrough = db.query as (...a: unknown[]) => unknown;
    if (typeof text !== 'string' || !Array.isArray(values) || args.length !== 2) return passThrough.apply(db, args);
    const name = statementName(text, label);
    return (db.query({ name, text, values }) as Promise<unknown>).catch((err: unknown) => {
      if (isStalePreparedStatement(err)) replan(text);
      throw err;
    });
  };
  return { query } as unknown as T;
}
