import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Lag } from './freshness';

/** A strong validator of the representation: a digest of the body clients get. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** RFC 9110 If-None-Match: a list of entity tags or "*"; weak comparison. */
export function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => opaque(t) === opaque(etag));
}

/**
 * RFC 7240 `Prefer: wait=<seconds>`: a client asking to wait less than the
 * service's bound for read-your-writes. Undefined when absent.
 */
export function preferredWaitMs(headers: FastifyRequest['headers']): number | undefined {
  const prefer = headers.prefer;
  const value = Array.isArray(prefer) ? prefer.join(',') : prefer;
  const m = value === undefined ? null : /(?:^|[,;\s])wait=(\d+)/i.exec(value);
  return m ? Number(m[1]) * 1000 : undefined;
}

export interface ReadHeaders {
  readonly lag: Lag | undefined;
  /** minVersion was asked and not reached within the wait. */
  readonly stale: boolean;
  readonly extra?: Record<string, string>;
}

/**
 * Answers a read: JSON with its ETag (304 without a body when the client has
 * it), the read model's lag for the key's partition, and the stale mark when
 * a read-your-writes wait timed out.
 */
export function sendRead(request: FastifyRequest, reply: FastifyReply, body: unknown, headers: ReadHeaders): boolean {
  const json = JSON.stringify(body);
  const etag = etagOf(json);
  void reply.header('etag', etag).header('cache-control', 'no-cache');
  if (headers.lag)
    void reply
      .header('sluice-lag-ms', String(Math.round(headers.lag.ms)))
      .header('sluice-lag-records', String(headers.lag.records));
  if (headers.stale) void reply.header('sluice-stale', 'true');
  for (const [k, v] of Object.entries(headers.extra ?? {})) void reply.header(k, v);
  const notModified = matches(request.headers['if-none-match'], etag);
  if (notModified) void reply.code(304).send();
  else void reply.code(200).type('application/json').send(json);
  return notModified;
}
