import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthError } from '@sluice/auth';
import { ResilienceError } from '@sluice/resilience';
import { authProblem } from './auth-problem';
import { PROBLEM_CONTENT_TYPE, ProblemError, problems } from './problem';
import { resilienceProblem } from './resilience-problem';

/**
 * Nest turns fastify's own errors into HttpExceptions that keep only the
 * status, so they are told apart by status here: 413 is fastify's body limit,
 * 415 a body that is not JSON. Malformed JSON never gets this far: the JSON
 * parser installed by createHttpApp throws a ProblemError itself.
 */
export function toProblemError(err: unknown, bodyLimit: number, realm = 'sluice'): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof AuthError) return authProblem(err, realm);
  if (err instanceof ResilienceError) return resilienceProblem(err);
  const status = (err as { statusCode?: number }).statusCode ?? (err as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    switch (status) {
      case 404:
        return problems.notFound('no such resource');
      case 405:
        return problems.methodNotAllowed('method not allowed here');
      case 413:
        return problems.bodyTooLarge(bodyLimit);
      case 415:
        return problems.unsupportedMediaType(undefined);
      default:
        return new ProblemError(status, 'bad_request', 'Bad request', err instanceof Error ? err.message : 'bad request');
    }
  }
  return problems.internal();
}

/** JSON.parse that refuses prototype-poisoning keys, answering problem+json on bad input. */
export function parseJsonBody(body: string): unknown {
  if (body.trim() === '') throw problems.malformedJson('the body is empty; send a JSON object');
  try {
    return JSON.parse(body, (key, value: unknown) => {
      if (key === '__proto__' || key === 'constructor') throw new SyntaxError(`forbidden key "${key}"`);
      return value;
    });
  } catch (err) {
    throw problems.malformedJson(err instanceof Error ? err.message : 'the body is not valid JSON');
  }
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemError): FastifyReply {
  void reply
    .code(problem.status)
    .headers(problem.headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem.toProblem(request.url.split('?')[0])));
  return reply;
}
