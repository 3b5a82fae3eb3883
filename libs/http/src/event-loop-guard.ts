import underPressure, { TYPE_EVENT_LOOP_DELAY, TYPE_EVENT_LOOP_UTILIZATION } from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { backpressureDrops } from '@sluice/resilience';
import { PROBLEM_CONTENT_TYPE, ProblemError } from './problem';

export interface EventLoopGuardOptions {
  /** Mean event-loop delay over a sample above which new requests are refused; 0 turns the check off. */
  maxEventLoopDelayMs: number;
  /** Event-loop utilization (0..1) above which new requests are refused; 0 turns the check off. */
  maxEventLoopUtilization: number;
  sampleIntervalMs: number;
  retryAfterSec: number;
}

/**
 * The process's own capacity as a stage: when this Node process is the
 * bottleneck (its event loop late or fully busy), every request it takes on
 * waits behind the others, deadlines included, so new ones are refused at
 * once with 503 `overloaded` until the loop catches up. Measured by
 * @fastify/under-pressure (event-loop delay histogram and utilization,
 * sampled on a timer). Health checks and metrics always pass.
 */
export async function installEventLoopGuard(
  fastify: FastifyInstance,
  options: EventLoopGuardOptions,
  registry: Registry,
  exempt: ReadonlySet<string>,
): Promise<void> {
  if (options.maxEventLoopDelayMs <= 0 && options.maxEventLoopUtilization <= 0) return;
  const drops = backpressureDrops(registry);
  await fastify.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxEventLoopUtilization: options.maxEventLoopUtilization,
    sampleInterval: options.sampleIntervalMs,
    retryAfter: options.retryAfterSec,
    pressureHandler: (request, reply, type, value) => {
      if (exempt.has(request.url.split('?')[0] ?? '/')) return undefined; // let it through
      const reason =
        type === TYPE_EVENT_LOOP_DELAY
          ? 'event_loop_delay'
          : type === TYPE_EVENT_LOOP_UTILIZATION
            ? 'event_loop_utilization'
            : String(type);
      drops.inc({ stage: 'process', reason });
      const problem = new ProblemError(
        503,
        'overloaded',
        'Service overloaded',
        `this instance is saturated (${reason} ${typeof value === 'number' ? value.toFixed(2) : ''}); retry later`,
        { retryAfterMs: options.retryAfterSec * 1000 },
      );
      // Sent here; fastify stops the request's lifecycle once a hook has replied.
      void reply
        .code(503)
        .header('retry-after', String(options.retryAfterSec))
        .type(PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problem.toProblem(request.url.split('?')[0])));
      return undefined;
    },
  });
}
