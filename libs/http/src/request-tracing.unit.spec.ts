import Fastify, { type FastifyInstance } from 'fastify';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { activeTraceparent, createLogger, createTracing } from '@sluice/observability';
import { installRequestTracing, requestIdOf } from './request-tracing';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER = `00-${TRACE}-b7ad6b7169203331-01`;

let app: FastifyInstance;
let url: string;
const exporter = new InMemorySpanExporter();
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  const tracing = createTracing('http-test', { exporter: 'none', sampleRatio: 1 }, exporter);
  app = Fastify({ genReqId: requestIdOf });
  installRequestTracing(app, {
    tracer: tracing.tracer,
    logger: createLogger('http-test', 'silent'),
    accessLog: false,
    quiet: new Set(['/metrics']),
  });
  // The body arrives on the socket's events after the hooks ran: the handler must still be in the span.
  app.post('/things/:id', async (request) => {
    await new Promise((resolve) => setImmediate(resolve));
    seen.push(activeTraceparent());
    return { got: request.body };
  });
  app.get('/metrics', async () => 'ok');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(() => app.close());
beforeEach(() => {
  exporter.reset();
  seen.length = 0;
});

describe('request tracing', () => {
  it("continues the caller's traceparent: the handler runs in the server span and the answer names the trace", async () => {
    const res = await fetch(`${url}/things/1`, {
      method: 'POST',
      headers: { traceparent: CALLER, 'content-type': 'application/json', 'x-request-id': 'req-42' },
      body: JSON.stringify({ a: 'x'.repeat(100_000) }),
    });
    expect(res.status).toBe(200);
    expect([res.headers.get('x-trace-id'), res.headers.get('x-request-id')]).toEqual([TRACE, 'req-42']);
    const [span] = exporter.getFinishedSpans();
    expect([span?.name, span?.parentSpanContext?.spanId, span?.attributes['http.response.status_code']]).toEqual([
      'POST /things/:id',
      'b7ad6b7169203331',
      200,
    ]);
    expect(seen).toEqual([`00-${TRACE}-${span!.spanContext().spanId}-01`]);
  });

  it('starts a trace for a request without one, and gives it a request id of its own', async () => {
    const res = await fetch(`${url}/things/2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.headers.get('x-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(exporter.getFinishedSpans()[0]?.parentSpanContext).toBeUndefined();
  });

  it('leaves scrapes untraced', async () => {
    await fetch(`${url}/metrics`);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('refuses a request id that is not a plain token, making its own', async () => {
    const res = await fetch(`${url}/metrics`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
