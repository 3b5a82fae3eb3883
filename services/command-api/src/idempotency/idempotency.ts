import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/db';
import { problems } from '@sluice/http';
import { idempotencyKeys } from '../db/schema';

export interface StoredResponse {
  status: number;
  /** The JSON body as sent. */
  body: string;
  headers: Record<string, string>;
}

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's identity for idempotency: method, concrete path and the body in
 * a canonical form (keys sorted), so a retry with the same meaning matches and
 * a different request under the same key does not.
 */
export function fingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body)}`)
    .digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface IdempotencyClaim {
  clientId: string;
  key: string;
  fingerprint: string;
}

/**
 * Claims the key inside the command's transaction. Returns the stored response
 * when the key was used before (the caller replays it), or undefined when this
 * transaction now holds the key. A concurrent request with the same key waits
 * on the row's unique index until the holder commits (then it replays) or
 * rolls back (then it claims the key itself): exactly one effect.
 */
export async function claimKey(db: Db, claim: IdempotencyClaim): Promise<StoredResponse | undefined> {
  const inserted = await db.execute(sql`
    INSERT INTO idempotency_keys (client_id, key, fingerprint, status_code, response_body, response_headers)
    VALUES (${claim.clientId}, ${claim.key}, ${claim.fingerprint}, 0, '', '{}'::jsonb)
    ON CONFLICT (client_id, key) DO NOTHING`);
  if (inserted.rowCount === 1) return undefined;
  const [row] = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.clientId, claim.clientId), eq(idempotencyKeys.key, claim.key)));
  if (!row) throw new Error('idempotency key vanished between insert and select');
  if (row.fingerprint !== claim.fingerprint) {
    throw problems.unprocessable(
      'idempotency_key_reused',
      'Idempotency-Key reused',
      'this Idempotency-Key was used with a different request; use a new key for a new request',
    );
  }
  return { status: row.statusCode, body: row.responseBody, headers: row.responseHeaders };
}

export async function storeResponse(db: Db, claim: IdempotencyClaim, response: StoredResponse): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ statusCode: response.status, responseBody: response.body, responseHeaders: response.headers })
    .where(and(eq(idempotencyKeys.clientId, claim.clientId), eq(idempotencyKeys.key, claim.key)));
}
