import { SluiceError } from '@sluice/core';

/**
 * RFC 9457 problem details. `code` is the stable, machine-readable member
 * clients branch on; `type` is a URI naming the same thing.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const PROBLEM_BASE = 'https://sluice.dev/problems/';

export class ProblemError extends SluiceError {
  constructor(
    readonly status: number,
    code: string,
    readonly title: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(code, detail, { retriable: status === 503 || status === 429 });
  }

  toProblem(instance?: string): ProblemDetails {
    return {
      type: `${PROBLEM_BASE}${this.code.replace(/_/g, '-')}`,
      title: this.title,
      status: this.status,
      detail: this.message,
      ...(instance !== undefined && { instance }),
      code: this.code,
      ...this.extensions,
    };
  }
}

export const problems = {
  validation: (detail: string, errors: { path: string; message: string }[]) =>
    new ProblemError(400, 'validation_failed', 'Request validation failed', detail, { errors }),
  badRequest: (code: string, title: string, detail: string) => new ProblemError(400, code, title, detail),
  malformedJson: (detail: string) => new ProblemError(400, 'malformed_json', 'Malformed JSON body', detail),
  bodyTooLarge: (limit: number) =>
    new ProblemError(413, 'body_too_large', 'Request body too large', `the body exceeds ${limit} bytes`, { limit }),
  unsupportedMediaType: (type: string | undefined) =>
    new ProblemError(
      415,
      'unsupported_media_type',
      'Unsupported media type',
      type ? `expected application/json, got ${type}` : 'send the body as application/json',
    ),
  notFound: (detail: string, code = 'not_found') => new ProblemError(404, code, 'Not found', detail),
  methodNotAllowed: (detail: string) => new ProblemError(405, 'method_not_allowed', 'Method not allowed', detail),
  unprocessable: (code: string, title: string, detail: string) => new ProblemError(422, code, title, detail),
  conflict: (code: string, detail: string) => new ProblemError(409, code, 'Conflict', detail),
  internal: () => new ProblemError(500, 'internal_error', 'Internal server error', 'the server failed to handle the request'),
  unavailable: (detail: string, retryAfterSec: number) =>
    new ProblemError(503, 'service_unavailable', 'Service unavailable', detail, {}, { 'retry-after': String(retryAfterSec) }),
};
