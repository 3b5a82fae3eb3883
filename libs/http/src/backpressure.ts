import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Deadline, type IngressLimiter, type LagShedder } from '@sluice/resilience';
import { sendProblem } from './error-handler';
import type { EventLoopGuardOptions } from './event-loop-guard';
import { ProblemError, problems } from './problem';
import { rateLimitHeaders, resilienceProblem } from './resilience-problem';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's time budget, set when it arrives (see installFrontDoor). */
    deadline: Deadline | null;
    /** Who sent it: X-Client-Id, else a digest of the API key, else "anonymous". */
    clientId: string;
  }
}

export interface FrontDoorOptions {
  /** Budget of every request, from arrival; stages below take what is left. */
  requestBudgetMs: number;
  ingress?: IngressLimiter;
  /** Consulted for writes only (POST, PUT, PATCH, DELETE): reads add nothing to the backlog. */
  shedder?: LagShedder;
  /** Refuses new requests while this process's event loop is saturated (see installEventLoopGuard). */
  eventLoop?: EventLoopGuardOptions;
  /** Paths never limited: health checks and metrics must answer under any load. */
  exempt?: readonly string[];
}

export const DEFAULT_EXEMPT_PATHS: readonly string[] = ['/health/live', '/health/ready', '/metrics'];

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The client a request counts against: an API gateway's X-Client-Id, else the
 * API key (hashed: a key never reaches logs or metrics), else "anonymous".
 * A malformed X-Client-Id is refused.
 */
export function clientIdOf(headers: Record<string, unknown>): string {
  const raw = headers['x-client-id'];
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !CLIENT_ID.test(raw)) {
      throw problems.validation('header X-Client-Id: must be 1-128 of [A-Za-z0-9._:-]', [
        { path: 'header.X-Client-Id', message: 'must be 1-128 of [A-Za-z0-9._:-]' },
      ]);
    }
    return raw;
  }
  const auth = headers['x-api-key'] ?? headers.authorization;
  if (typeof auth === 'string' && auth.length > 0) {
    return `key:${createHash('sha256').update(auth).digest('hex').slice(0, 16)}`;
  }
  return 'anonymous';
}

/**
 * The first stages of every request, before its body is parsed: the deadline
 * starts, the client is identified, the ingress token buckets admit or refuse
 * it (429 with Retry-After and RateLimit headers), and writes are shed while
 * the pipeline behind the service lags (503 with Retry-After).
 */
export function installFrontDoor(fastify: FastifyInstance, options: FrontDoorOptions): void {
  const exempt = new Set(options.exempt ?? DEFAULT_EXEMPT_PATHS);
  fastify.decorateRequest('deadline', null);
  fastify.decorateRequest('clientId', 'anonymous');
  fastify.addHook('onRequest', (request, reply, done) => {
    request.deadline = Deadline.after(options.requestBudgetMs);
    if (exempt.has(pathOf(request))) return done();
    try {
      request.clientId = clientIdOf(request.headers);
      if (options.ingress) {
        const d = options.ingress.admit(request.clientId);
        void reply.headers(rateLimitHeaders(d.limit, d.windowSec, d.remaining, d.resetSec));
      }
      if (options.shedder && WRITES.has(request.method)) options.shedder.admit();
      done();
    } catch (err) {
      sendProblem(reply, request, err instanceof ProblemError ? err : resilienceProblem(err));
    }
  });
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '/';
}
