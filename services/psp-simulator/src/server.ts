import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, type Registry } from 'prom-client';
import { z } from '@sluice/config';
import { errorMessage } from '@sluice/core';
import { opsResponse, type Health, type Logger } from '@sluice/observability';
import { Faults, FaultsPatch } from './faults';
import type { Provider } from './provider';

const PayoutBody = z
  .object({
    reference: z.string().min(1).max(255),
    amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    currency: z.string().regex(/^[A-Z]{3}$/),
  })
  .strict();

const MAX_BODY = 64 * 1024;

export interface SimulatorServerOptions {
  provider: Provider;
  faults: { get(): Faults; set(next: Faults): void };
  health: Health;
  registry: Registry;
  /** Serve /metrics on this server (the default); false when METRICS_PORT gives them a listener of their own. */
  serveMetrics?: boolean;
  logger: Logger;
}

/**
 * The provider's HTTP API:
 *   POST /v1/payouts {reference, amount, currency} with Idempotency-Key → 201 (new) or 200 (same key again)
 *   GET  /v1/payouts/{payoutId}, GET /v1/payouts?reference=… → the payout(s)
 *   GET|PUT /admin/faults, GET /admin/payouts (every executed payout), GET /admin/stats
 * The /v1 routes suffer the faults; /admin, /health and /metrics never do.
 */
export function createSimulatorServer(options: SimulatorServerOptions): Server {
  const { provider, faults, logger } = options;
  const requests = new Counter({
    name: 'psp_api_requests_total',
    help: 'Payout API requests by route and what the simulator did (ok, injected_error, lost_answer, dropped_down)',
    labelNames: ['route', 'result'],
    registers: [options.registry],
  });

  // Payout requests being worked on, by idempotency key: a second request with the key meanwhile gets 409.
  const inFlight = new Set<string>();

  const payoutApi = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const route = req.method === 'POST' ? 'create' : 'get';
    const f = faults.get();
    if (f.down) {
      requests.inc({ route, result: 'dropped_down' });
      req.socket.destroy();
      return;
    }
    const key = req.method === 'POST' ? req.headers['idempotency-key'] : undefined;
    if (typeof key === 'string' && f.keyInUseConflict && inFlight.has(key)) {
      requests.inc({ route, result: 'key_in_use' });
      return send(res, 409, { code: 'idempotency_key_in_use', detail: 'a request with this key is being processed' });
    }
    if (typeof key === 'string') inFlight.add(key);
    try {
      return await payoutCall(req, res, url, f, route);
    } finally {
      if (typeof key === 'string') inFlight.delete(key);
    }
  };

  const payoutCall = async (req: IncomingMessage, res: ServerResponse, url: URL, f: Faults, route: string): Promise<void> => {
    // The request is read first: a caller that gives up while the provider is slow does not stop the payout.
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (f.latencyMs > 0) await sleep(f.latencyMs);
    if (f.refuseStatus !== 0 && (f.refuseRoute === 'all' || (f.refuseRoute === 'create') === (route === 'create'))) {
      requests.inc({ route, result: 'refused' });
      return send(res, f.refuseStatus, { code: f.refuseCode, detail: 'refused by the injected fault' });
    }
    const roll = Math.random();
    // Half the injected errors strike before the work, half after it (the answer is lost).
    if (roll < f.errorRate / 2) {
      requests.inc({ route, result: 'injected_error' });
      return send(res, 503, { code: 'unavailable', detail: 'injected failure before processing' });
    }
    if (req.method === 'POST' && url.pathname === '/v1/payouts') {
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
        return send(res, 400, { code: 'idempotency_key_missing', detail: 'send an Idempotency-Key header' });
      }
      const parsed = PayoutBody.safeParse(body);
      if (!parsed.success) return send(res, 400, { code: 'validation_failed', detail: parsed.error.message });
      const result = provider.create(key, parsed.data);
      if (roll < f.errorRate) {
        requests.inc({ route, result: 'lost_answer' });
        return send(res, 502, { code: 'bad_gateway', detail: 'injected failure after processing' });
      }
      requests.inc({ route, result: 'ok' });
      if (result.kind === 'key_reused') {
        return send(res, 422, { code: 'idempotency_key_reused', detail: 'this key was used for another payout' });
      }
      return send(res, result.kind === 'created' ? 201 : 200, result.payout, {
        ...(result.kind === 'replayed' && { 'idempotent-replayed': 'true' }),
      });
    }
    if (req.method === 'GET' && url.pathname === '/v1/payouts') {
      requests.inc({ route, result: 'ok' });
      return send(res, 200, { data: provider.findByReference(url.searchParams.get('reference') ?? '') });
    }
    const m = /^\/v1\/payouts\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      requests.inc({ route, result: 'ok' });
      const payout = provider.find(m[1]!);
      return payout ? send(res, 200, payout) : send(res, 404, { code: 'payout_not_found', detail: `no payout ${m[1]}` });
    }
    return send(res, 404, { code: 'not_found', detail: `no route ${req.method} ${url.pathname}` });
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (url.pathname === '/admin/faults' && req.method === 'GET') return send(res, 200, faults.get());
    if (url.pathname === '/admin/faults' && req.method === 'PUT') {
      const patch = FaultsPatch.safeParse(await readJson(req));
      if (!patch.success) return send(res, 400, { code: 'validation_failed', detail: patch.error.message });
      const next = Faults.parse({ ...faults.get(), ...patch.data });
      faults.set(next);
      logger.info({ faults: next }, 'faults changed');
      return send(res, 200, next);
    }
    if (url.pathname === '/admin/payouts' && req.method === 'GET') return send(res, 200, provider.executedPayouts());
    if (url.pathname === '/admin/stats' && req.method === 'GET') return send(res, 200, provider.stats());
    return send(res, 404, { code: 'not_found', detail: `no route ${req.method} ${url.pathname}` });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://psp');
    const handle = url.pathname.startsWith('/v1/')
      ? payoutApi(req, res, url)
      : url.pathname.startsWith('/admin/')
        ? admin(req, res, url)
        : opsResponse(url.pathname, options.health, options.serveMetrics === false ? undefined : options.registry).then((r) =>
            r
              ? void res.writeHead(r.status, { 'content-type': r.contentType }).end(r.body)
              : send(res, 404, { code: 'not_found' }),
          );
    handle.catch((err: unknown) => {
      if (err instanceof BodyError) return send(res, 400, { code: 'malformed_body', detail: err.message });
      logger.error({ err }, 'request failed');
      if (!res.headersSent) send(res, 500, { code: 'internal_error', detail: errorMessage(err) });
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

class BodyError extends Error {}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BodyError(`the body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new BodyError(`not JSON: ${errorMessage(err)}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
  res.end(JSON.stringify(status >= 400 ? { status, ...(body as object) } : body));
}
