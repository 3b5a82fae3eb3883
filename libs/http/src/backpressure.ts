import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { AuthError } from '@sluice/auth';
import {
  backpressureDrops,
  Deadline,
  deadlineExceeded,
  ResilienceError,
  type IngressLimiter,
  type LagShedder,
} from '@sluice/resilience';
import { authProblem } from './auth-problem';
import { authenticate, authOutcomes, outcomeOf, registerTokenCacheMetrics, type FrontDoorAuth } from './authenticate';
import { sendProblem } from './error-handler';
import type { EventLoopGuardOptions } from './event-loop-guard';
import { ProblemError } from './problem';
import { rateLimitHeaders, resilienceProblem } from './resilience-problem';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's time budget, set when it arrives (see installFrontDoor). */
    deadline: Deadline | null;
  }
}

export interface FrontDoorOptions {
  /** Budget of every request, from arrival; stages below take what is left. */
  requestBudgetMs: number;
  /**
   * Bearer-token authentication of every path but the exempt ones. Its
   * principal is the client the ingress buckets count against; without it
   * every request counts against one bucket ("anonymous").
   */
  auth?: FrontDoorAuth;
  ingress?: IngressLimiter;
  /** Consulted for writes only (POST, PUT, PATCH, DELETE): reads add nothing to the backlog. */
  shedder?: LagShedder;
  /** Refuses new requests while this process's event loop is saturated (see installEventLoopGuard). */
  eventLoop?: EventLoopGuardOptions;
  /** Paths never limited: health checks and metrics must answer under any load. */
  exempt?: readonly string[];
  /**
   * Longest a request may have queued in front of this process (from its X-Request-Start stamp
   * to being read) and still be started; longer is refused with 503 overloaded. The queue in
   * front of the process is bounded in time like every other. Unset: only the budget bounds it.
   */
  maxQueuedMs?: number;
  /** Counts requests refused at the door (sluice_backpressure_drops_total). */
  registry?: Registry;
}

export const DEFAULT_EXEMPT_PATHS: readonly string[] = ['/health/live', '/health/ready', '/metrics'];

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * When the edge proxy received the request, from its X-Request-Start stamp
 * (`t=<epoch>` as nginx's `$msec` and Heroku's router write it, in seconds
 * with a fraction, milliseconds or microseconds; the `t=` is optional).
 * Undefined without a readable stamp.
 */
export function requestStartOf(headers: Record<string, unknown>): number | undefined {
  const raw = headers['x-request-start'];
  if (typeof raw !== 'string') return undefined;
  const value = Number(raw.startsWith('t=') ? raw.slice(2) : raw);
  if (!Number.isFinite(value) || value <= 0) return undefined;
  if (value < 1e11) return value * 1000; // seconds
  if (value < 1e14) return value; // milliseconds
  return value / 1000; // microseconds
}

/**
 * The first stages of every request, before its body is parsed: the deadline
 * starts (at the edge proxy's X-Request-Start stamp when there is one, so
 * time the request queued before this process read it counts, and one that
 * has already waited out its budget is refused at once with 503
 * deadline_exceeded: under a burst that is the cheapest answer there is); the
 * bearer token is verified (401 problem+json with a WWW-Authenticate
 * challenge when missing or refused) and names the principal; the
 * principal's ingress token bucket admits or refuses it (429
 * with Retry-After and RateLimit headers); and writes are shed while the
 * pipeline behind the service lags (503 with Retry-After). A stamp later than
 * now counts as now: a client can only shorten its own budget.
 */
export function installFrontDoor(fastify: FastifyInstance, options: FrontDoorOptions): void {
  const exempt = new Set(options.exempt ?? DEFAULT_EXEMPT_PATHS);
  const drops = options.registry && backpressureDrops(options.registry);
  fastify.decorateRequest('deadline', null);
  fastify.decorateRequest('principal', null);
  const auth = options.auth;
  const outcomes = auth && options.registry && authOutcomes(options.registry);
  if (auth && options.registry) registerTokenCacheMetrics(options.registry, auth.verifier);
  /** The stages after authentication; false when one refused (and answered) the request. */
  const admit = (request: FastifyRequest, reply: FastifyReply): boolean => {
    try {
      if (options.ingress) {
        const d = options.ingress.admit(request.principal?.subject ?? 'anonymous');
        void reply.headers(rateLimitHeaders(d.limit, d.windowSec, d.remaining, d.resetSec));
      }
      if (options.shedder && WRITES.has(request.method)) options.shedder.admit();
      return true;
    } catch (err) {
      refuse(request, reply, err);
      return false;
    }
  };
  const refuse = (request: FastifyRequest, reply: FastifyReply, err: unknown): void => {
    if (err instanceof AuthError && auth) sendProblem(reply, request, authProblem(err, auth.realm));
    else sendProblem(reply, request, err instanceof ProblemError ? err : resilienceProblem(err));
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    const startedAt = requestStartOf(request.headers);
    request.deadline =
      startedAt === undefined ? Deadline.after(options.requestBudgetMs) : Deadline.since(startedAt, options.requestBudgetMs);
    if (exempt.has(pathOf(request))) return done();
    if (startedAt !== undefined) {
      const queuedMs = Date.now() - startedAt;
      if (request.deadline.expired) {
        drops?.inc({ stage: 'ingress', reason: 'queued_past_deadline' });
        sendProblem(reply, request, resilienceProblem(deadlineExceeded('queued before this service read the request')));
        return;
      }
      if (options.maxQueuedMs !== undefined && queuedMs > options.maxQueuedMs) {
        drops?.inc({ stage: 'ingress', reason: 'queued_too_long' });
        const message = `the request queued ${Math.round(queuedMs)} ms before this service read it (at most ${options.maxQueuedMs} ms): it is behind; retry later`;
        sendProblem(
          reply,
          request,
          resilienceProblem(new ResilienceError('overloaded', message, 1_000, { queuedMs: Math.round(queuedMs) })),
        );
        return;
      }
    }
    if (!auth) {
      if (admit(request, reply)) done();
      return;
    }
    authenticate(request.headers.authorization, auth.verifier).then(
      (principal) => {
        outcomes?.inc({ outcome: 'authenticated' });
        request.principal = principal;
        if (admit(request, reply)) done();
      },
      (err: unknown) => {
        if (err instanceof AuthError) outcomes?.inc({ outcome: outcomeOf(err) });
        refuse(request, reply, err);
      },
    );
  });
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '/';
}
