import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { problems } from '@sluice/http';

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
 * The response stored under a key the caller failed to claim (see
 * loadWallets, which claims it in the batch's first statement): the same
 * request gets it again, another request under the same key gets 422.
 */
export async function storedResponse(client: PoolClient, claim: IdempotencyClaim): Promise<StoredResponse> {
  const { rows } = await client.query<{
    fingerprint: string;
    status_code: number;
    response_body: string;
    response_headers: Record<string, string>;
  }>({
    name: 'sluice_idempotency_stored',
    text: 'SELECT fingerprint, status_code, response_body, response_headers FROM idempotency_keys WHERE client_id = $1 AND key = $2',
    values: [claim.clientId, claim.key],
  });
  const row = rows[0];
  if (!row) throw new Error('idempotency key vanished between claim and read');
  if (row.fingerprint !== claim.fingerprint) {
    throw problems.unprocessable(
      'idempotency_key_reused',
      'Idempotency-Key reused',
      'this Idempotency-Key was used with a different request; use a new key for a new request',
    );
  }
  return { status: row.status_code, body: row.response_body, headers: row.response_headers };
}
