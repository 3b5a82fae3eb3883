/**
 * Errors across Sluice carry a machine-readable `code` from a closed set, the
 * `cause` they wrap, and whether retrying the same operation can help. Retry,
 * dead-letter and circuit-breaker decisions read these fields, never messages.
 */
export interface SluiceErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  details?: Record<string, unknown>;
}

export class SluiceError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: Code, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }
}

/** True when the error, or anything in its cause chain, says retrying can help. */
export function isRetriable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof SluiceError) return e.retriable;
  }
  return false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
