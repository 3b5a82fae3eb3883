import { ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { opsResponse, trace, type Health, type Logger, type Tracer } from '@sluice/observability';
import { parseJsonBody, sendProblem, toProblemError } from './error-handler';
import { DEFAULT_EXEMPT_PATHS, installFrontDoor, type FrontDoorOptions } from './backpressure';
import { createServer, type RequestListener } from 'node:http';
import { boundConnections, type ConnectionBounds } from './connection-bounds';
import { DoorGate } from './door-gate';
import { installEventLoopGuard } from './event-loop-guard';
import { installHttpMetrics } from './http-metrics';
import { PinoNestLogger } from './nest-logger';
import { installRequestTracing, requestIdOf } from './request-tracing';

@Catch()
class ProblemFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly bodyLimit: number,
    private readonly realm: string,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const request = ctx.getRequest<FastifyRequest>();
    const problem = toProblemError(exception, this.bodyLimit, this.realm);
    // 503s with Retry-After are the service protecting itself, counted by metrics; only failures are logged.
    if (problem.status >= 500 && !problem.retriable) {
      this.logger.error({ err: exception, url: request.url, method: request.method }, 'request failed');
    }
    sendProblem(ctx.getResponse<FastifyReply>(), request, problem);
  }
}

export interface HttpAppOptions {
  logger: Logger;
  registry: Registry;
  health: Health;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  /** Deadline, ingress rate limits and load shedding for every request (see installFrontDoor). */
  frontDoor?: FrontDoorOptions;
  /** Connections served at once and their timeouts (see boundConnections); unset: Node's defaults, 5 s keep-alive. */
  connections?: ConnectionBounds;
  /** The service's tracer (a server span per request, continuing the caller's traceparent); unset, no spans. */
  tracer?: Tracer;
  /** One log line per request, health and metrics aside. */
  accessLog?: boolean;
  /** Serve /metrics here (the default); false when a listener of its own serves it (METRICS_PORT): then 404 here. */
  serveMetrics?: boolean;
}

/**
 * Nest routes unmatched paths and fastify's own errors (JSON parsing, body
 * limit, media type) through its exception filters, so this one filter makes
 * every error that leaves the service RFC 9457 problem+json.
 *
 * A NestJS application on Fastify with Sluice's conventions: problem+json for
 * every error, RED metrics per route, a front door of backpressure stages,
 * /health/live, /health/ready, /metrics (unless serveMetrics is false).
 */
export async function createHttpApp(module: unknown, options: HttpAppOptions): Promise<NestFastifyApplication> {
  const bodyLimit = options.bodyLimit ?? 16 * 1024;
  const frontDoor = options.frontDoor ?? { requestBudgetMs: 400 };
  const exempt = new Set(frontDoor.exempt ?? DEFAULT_EXEMPT_PATHS);
  // The cheapest refusals run on the server's request event, before Fastify routes or reads the body.
  const gate = new DoorGate({
    exempt,
    requestBudgetMs: frontDoor.requestBudgetMs,
    ...(frontDoor.maxQueuedMs !== undefined && { maxQueuedMs: frontDoor.maxQueuedMs }),
    retryAfterSec: frontDoor.eventLoop?.retryAfterSec ?? 1,
    registry: options.registry,
  });
  const adapter = new FastifyAdapter({
    bodyLimit,
    logger: false,
    genReqId: requestIdOf,
    return503OnClosing: true,
    serverFactory: (handler: RequestListener) => {
      const server = createServer(gate.wrap(handler));
      server.keepAliveTimeout = 5_000;
      return server;
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, {
    logger: new PinoNestLogger(options.logger),
    abortOnError: false,
    bodyParser: false, // the JSON parser below is the only one
  });
  app.useGlobalFilters(new ProblemFilter(options.logger, bodyLimit, frontDoor.auth?.realm ?? 'sluice'));
  const fastify = app.getHttpAdapter().getInstance();
  if (options.connections) boundConnections(fastify.server, options.connections, options.registry);
  installHttpMetrics(fastify, options.registry);
  // Before the front door's hooks: a request it refuses is still a span of its caller's trace.
  installRequestTracing(fastify, {
    tracer: options.tracer ?? trace.getTracer('sluice-untraced'),
    logger: options.logger,
    accessLog: options.accessLog ?? false,
    quiet: new Set(['/health/live', '/health/ready', '/metrics']),
  });
  // First: a saturated process refuses before spending anything on the request.
  if (frontDoor.eventLoop) {
    await installEventLoopGuard(fastify, frontDoor.eventLoop, options.registry, exempt);
    if (fastify.hasDecorator('isUnderPressure')) gate.saturated = () => fastify.isUnderPressure();
  }
  installFrontDoor(fastify, { registry: options.registry, ...frontDoor });
  // JSON is the only body type; anything else is answered 415 by fastify.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const metrics = options.serveMetrics === false ? [] : ['/metrics'];
  for (const path of ['/health/live', '/health/ready', ...metrics]) {
    fastify.get(path, async (_request, reply) => {
      const r = await opsResponse(path, options.health, options.registry);
      if (!r) return reply.code(404).send();
      return reply.code(r.status).type(r.contentType).send(r.body);
    });
  }
  return app;
}
