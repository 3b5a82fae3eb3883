import { stdSerializers } from 'pino';

export const REDACTED = '[redacted]';

/** Keys whose values are credentials whatever their shape. */
const SECRET_KEY = /token|secret|passw(or)?d|authorization|api[-_]?key|cookie|credential|private[-_]?key/i;
/** The password of a URL's user info: scheme://user:password@host. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]+)@/gi;
/** An HTTP authorization value: Bearer <token> or Basic <credentials>. */
const AUTH_VALUE = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/** Nesting past this is cut off rather than walked (and a cycle ends here too). */
const MAX_DEPTH = 16;

/** A string with URL passwords masked (user:***@) and bearer/basic credentials removed. */
export function redactString(value: string): string {
  // Most strings hold neither; the tests are cheaper than the replacements.
  if (!value.includes('://') && !/bearer|basic/i.test(value)) return value;
  return value.replace(URL_PASSWORD, '$1:***@').replace(AUTH_VALUE, `$1 ${REDACTED}`);
}

/**
 * A copy of `value` with credentials removed at any depth: the values of
 * secret-named keys (token, secret, password, authorization…), passwords in
 * connection strings and bearer tokens inside any string, errors' messages
 * and stacks included. Values that hold nothing to redact are returned as
 * they are, not copied.
 */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactValue(stdSerializers.errWithCause(value), depth, seen);
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      value.forEach((item, i) => {
        const clean = redactValue(item, depth + 1, seen);
        if (clean !== item) (copy ??= [...(value as unknown[])])[i] = clean;
      });
      return copy ?? value;
    }
    if (Buffer.isBuffer(value) || value instanceof Date || value instanceof Map || value instanceof Set) return value;
    let copy: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      const clean = SECRET_KEY.test(key) && item !== undefined && item !== null ? REDACTED : redactValue(item, depth + 1, seen);
      if (clean !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = clean;
    }
    return copy ?? value;
  } finally {
    seen.delete(value);
  }
}
