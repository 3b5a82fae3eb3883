import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@sluice/observability';
import { PspClient, PspError } from './psp-client';

const SECRET_BODY = JSON.stringify({
  code: 'unauthorized',
  detail: 'token sk_live_abc123 rejected for account holder jane.doe@example.com IBAN DE89370400440532013000',
  token: 'sk_live_abc123',
});

let server: Server;
let url: string;
let status = 401;
let body = SECRET_BODY;

beforeAll(async () => {
  server = createServer((_req, res) => void res.writeHead(status, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function debugLog(): { logger: Logger; lines: unknown[] } {
  const lines: unknown[] = [];
  const logger = { debug: (obj: unknown) => void lines.push(obj) } as unknown as Logger;
  return { logger, lines };
}

describe('PspClient: provider error bodies stay out', () => {
  it('a 4xx carries its status and a bounded code; the body goes to the debug log only, redacted', async () => {
    status = 401;
    body = SECRET_BODY;
    const { logger, lines } = debugLog();
    const err = await new PspClient(url, 1_000, logger)
      .createPayout('wd_1', { reference: 'r', amount: 1, currency: 'EUR' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PspError);
    const e = err as PspError;
    expect(e.code).toBe('psp_refused');
    expect(e.details).toEqual({ status: 401, code: 'unauthorized' });
    expect(e.message).not.toContain('sk_live');
    expect(e.message).not.toContain('example.com');
    const logged = JSON.stringify(lines);
    expect(logged).toContain('unauthorized');
    expect(logged).not.toContain('sk_live_abc123');
    expect(logged).not.toContain('jane.doe@example.com');
    expect(logged).not.toContain('DE89370400440532013000');
  });

  it('a code that is not a plain code becomes http_<status>, and a 5xx says only its status', async () => {
    status = 409;
    body = JSON.stringify({ code: 'Conflict: <payout po_1 for jane@example.com>' });
    const refused = (await new PspClient(url, 1_000).findPayouts('r').catch((e: unknown) => e)) as PspError;
    expect(refused.details).toEqual({ status: 409, code: 'http_409' });
    status = 502;
    body = 'upstream bank said: account 12345678901234 closed';
    const lost = (await new PspClient(url, 1_000)
      .createPayout('k', { reference: 'r', amount: 1, currency: 'EUR' })
      .catch((e: unknown) => e)) as PspError;
    expect(lost.code).toBe('psp_unavailable');
    expect(lost.maybeExecuted).toBe(true);
    expect(lost.message).toBe('POST /v1/payouts: 502');
  });

  it('a 503 to a payout request is "not processed", a timeout may have been', async () => {
    status = 503;
    body = '{}';
    const unavailable = (await new PspClient(url, 1_000)
      .createPayout('k', { reference: 'r', amount: 1, currency: 'EUR' })
      .catch((e: unknown) => e)) as PspError;
    expect(unavailable.maybeExecuted).toBe(false);
  });
});
