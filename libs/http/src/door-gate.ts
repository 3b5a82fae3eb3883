import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { backpressureDrops, deadlineExceeded, ResilienceError } from '@sluice/resilience';
import { requestStartOf } from './backpressure';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { resilienceProblem } from './resilience-problem';

export interface DoorGateOptions {
  /** Paths never refused here (health, metrics). */
  exempt: ReadonlySet<string>;
  requestBudgetMs: number;
  /** Longest a request may have queued in front of the process (its X-Request-Start to now). */
  maxQueuedMs?: number;
  retryAfterSec: number;
  registry: Registry;
}

interface Refusal {
  stage: string;
  reason: string;
  error: ResilienceError;
}

/**
 * The cheapest refusals, in front of the framework: run on the HTTP server's
 * request event, before Fastify builds its request and reply, routes, runs
 * hooks or reads a byte of the body. It refuses a request when the process
 * is saturated (the event-loop guard's verdict, read from `saturated`) or
 * when its X-Request-Start says it queued in front of the process too long or
 * past its budget, with the same 503s, Retry-After and problem+json as the
 * front door's hooks (which still run for what passes here, and for
 * inject()ed requests, which never pass through the server). Under a burst
 * from plain clients most answers are refusals; each one here skips the
 * framework's per-request work.
 */
export class DoorGate {
  /** Set once the event-loop guard is installed: whether the process is saturated now. */
  saturated: () => boolean = () => false;
  private readonly drops: ReturnType<typeof backpressureDrops>;

  constructor(private readonly options: DoorGateOptions) {
    this.drops = backpressureDrops(options.registry);
  }

  /** The server's request listener: this gate, then the framework's `handler`. */
  wrap(handler: RequestListener): RequestListener {
    return (req, res) => {
      if (!this.refuse(req, res)) handler(req, res);
    };
  }

  /** Answers and returns true when the request is refused here. */
  refuse(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (this.options.exempt.has(path)) return false;
    const refusal = this.verdict(req);
    if (!refusal) return false;
    this.drops.inc({ stage: refusal.stage, reason: refusal.reason });
    const problem = resilienceProblem(refusal.error);
    const body = JSON.stringify(problem.toProblem(path));
    res.writeHead(problem.status, {
      ...problem.headers,
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return true;
  }

  private verdict(req: IncomingMessage): Refusal | undefined {
    if (this.saturated()) {
      const error = new ResilienceError(
        'overloaded',
        'this instance is saturated; retry later',
        this.options.retryAfterSec * 1000,
      );
      return { stage: 'process', reason: 'event_loop', error };
    }
    const startedAt = requestStartOf(req.headers);
    if (startedAt === undefined) return undefined;
    const queuedMs = Date.now() - startedAt;
    if (queuedMs >= this.options.requestBudgetMs) {
      return {
        stage: 'ingress',
        reason: 'queued_past_deadline',
        error: deadlineExceeded('queued before this service read the request'),
      };
    }
    if (this.options.maxQueuedMs !== undefined && queuedMs > this.options.maxQueuedMs) {
      const message = `the request queued ${Math.round(queuedMs)} ms before this service read it (at most ${this.options.maxQueuedMs} ms): it is behind; retry later`;
      const error = new ResilienceError('overloaded', message, this.options.retryAfterSec * 1000, {
        queuedMs: Math.round(queuedMs),
      });
      return { stage: 'ingress', reason: 'queued_too_long', error };
    }
    return undefined;
  }
}
