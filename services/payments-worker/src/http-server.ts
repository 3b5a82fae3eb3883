import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { opsResponse, type Health, type Logger } from '@sluice/observability';
import { verifySignature } from './webhooks/signature';
import { WebhookEvent, type WebhookInbox } from './webhooks/webhook-inbox';

const MAX_BODY = 64 * 1024;
export const SIGNATURE_HEADER = 'psp-signature';

export interface WorkerHttpOptions {
  inbox: WebhookInbox;
  secret: string;
  toleranceS: number;
  health: Health;
  /** Served at /metrics; unset when a listener of its own serves them (METRICS_PORT): then 404 here. */
  registry: Registry | undefined;
  logger: Logger;
}

/**
 * POST /v1/psp/webhooks: checks the signature over the raw body and its
 * timestamp, stores the event in the inbox (once per event id) and answers
 * 200 at once; the saga work happens from the inbox. A refused delivery is
 * answered 4xx problem+json (the provider stops retrying it); a database
 * that is away is answered 503 (the provider retries). Plus /health/live,
 * /health/ready and (unless METRICS_PORT moves it) /metrics.
 */
export function createWorkerHttpServer(options: WorkerHttpOptions): Server {
  const { inbox, logger } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/v1/psp/webhooks') {
      if (req.method !== 'POST') return problem(res, 405, 'method_not_allowed', 'POST only');
      void webhook(req, res).catch((err: unknown) => {
        logger.error({ err }, 'webhook not stored');
        inbox.count('unavailable');
        if (!res.headersSent)
          problem(res, 503, 'unavailable', 'the webhook could not be stored; send it again', { 'retry-after': '1' });
      });
      return;
    }
    void opsResponse(path, options.health, options.registry)
      .then((r) =>
        r ? void res.writeHead(r.status, { 'content-type': r.contentType }).end(r.body) : problem(res, 404, 'not_found', path),
      )
      .catch(() => problem(res, 500, 'internal_error', 'ops request failed'));
  });
  server.keepAliveTimeout = 5_000;

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (!raw) {
      inbox.count('malformed');
      return problem(res, 413, 'body_too_large', `the body exceeds ${MAX_BODY} bytes`);
    }
    const header = req.headers[SIGNATURE_HEADER];
    const check = verifySignature(typeof header === 'string' ? header : undefined, raw, options.secret, options.toleranceS);
    if (!check.ok) {
      inbox.count(check.reason === 'stale' ? 'stale' : 'bad_signature');
      return problem(
        res,
        401,
        check.reason === 'stale' ? 'signature_expired' : 'signature_invalid',
        `webhook signature ${check.reason}`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      inbox.count('malformed');
      return problem(res, 400, 'malformed_json', 'the body is not JSON');
    }
    const event = WebhookEvent.safeParse(body);
    if (!event.success) {
      inbox.count('malformed');
      return problem(res, 400, 'validation_failed', event.error.message);
    }
    const stored = await inbox.receive(event.data, body);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received: true, duplicate: !stored }));
  }

  return server;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function problem(res: ServerResponse, status: number, code: string, detail: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers }).end(
    JSON.stringify({
      type: `https://sluice.dev/problems/${code.replace(/_/g, '-')}`,
      title: code.replace(/_/g, ' '),
      status,
      code,
      detail,
    }),
  );
}
