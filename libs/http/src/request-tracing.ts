import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  context,
  contextFromTraceparent,
  SpanKind,
  SpanStatusCode,
  trace,
  type Logger,
  type Tracer,
} from '@sluice/observability';

export interface RequestTracingOptions {
  tracer: Tracer;
  logger: Logger;
  /** One info line per request (method, route, status, duration, request id); health and metrics are left out. */
  accessLog: boolean;
  /** Paths that get no span and no access line (health checks, scrapes). */
  quiet: ReadonlySet<string>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's genReqId: the caller's X-Request-Id when it is a plain token, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * A server span per request, continuing the caller's W3C traceparent (or starting a trace),
 * active for the whole of the request's handling: the rest of the hooks and the handler run
 * from the hook's done() inside the span's context (Fastify carries the async context across
 * reading the body), so the handler's own spans, log lines and the outbox rows it writes carry it.
 * Every answer says its trace (x-trace-id, when the trace is recorded or came from the caller) and
 * its request id (x-request-id).
 */
export function installRequestTracing(fastify: FastifyInstance, options: RequestTracingOptions): void {
  const { tracer, logger, quiet } = options;
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (quiet.has(pathOf(request))) {
      done();
      return;
    }
    const parent = contextFromTraceparent(request.headers.traceparent as string | undefined);
    const span = tracer.startSpan(
      `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': pathOf(request),
          ...(request.routeOptions.url !== undefined && { 'http.route': request.routeOptions.url }),
          'sluice.request_id': request.id,
        },
      },
      parent,
    );
    const sc = span.spanContext();
    if (sc.traceId !== '00000000000000000000000000000000') void reply.header('x-trace-id', sc.traceId);
    spans.set(request, span);
    context.with(trace.setSpan(parent, span), done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    if (options.accessLog && !quiet.has(pathOf(request))) {
      logger.info(
        {
          req_id: request.id,
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      );
    }
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    const span = spans.get(request);
    if (span) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the request' });
      span.end();
    }
    done();
  });
}

type Span = ReturnType<Tracer['startSpan']>;
const spans = new WeakMap<FastifyRequest, Span>();

function pathOf(request: FastifyRequest): string {
  const url = request.url;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
