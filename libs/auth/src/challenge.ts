/**
 * RFC 6750 §3 WWW-Authenticate values. Quoted strings carry only what the
 * RFC allows in them (%x20-21 / %x23-5B / %x5D-7E): anything else is
 * replaced, so a token's content can never break the header.
 */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface Challenge {
  realm: string;
  error?: BearerError;
  description?: string;
  /** For insufficient_scope: the scopes the request needs, space-separated. */
  scope?: string;
}

export function bearerChallenge(c: Challenge): string {
  const params = [`realm="${quotable(c.realm)}"`];
  if (c.error) params.push(`error="${c.error}"`);
  if (c.description) params.push(`error_description="${quotable(c.description).slice(0, 200)}"`);
  if (c.scope) params.push(`scope="${quotable(c.scope)}"`);
  return `Bearer ${params.join(', ')}`;
}

function quotable(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?');
}

/**
 * The bearer token of an Authorization header (RFC 6750 §2.1; the scheme is
 * case-insensitive). Undefined when there is no header; null when there is
 * one that is not a well-formed bearer token.
 */
export function bearerToken(header: unknown): string | null | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') return null;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return m ? m[1]! : null;
}
