import { SluiceError } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import type { PayoutView } from '../saga/saga';
import { boundedCode, redactBody } from './provider-answers';

export type PspErrorCode = 'psp_unavailable' | 'psp_timeout' | 'psp_refused' | 'psp_bad_answer';

/**
 * A provider call that failed. psp_unavailable and psp_timeout are
 * retriable (no answer: the payout may or may not exist) and count against
 * the circuit; psp_refused (a 4xx) is the provider's deliberate answer.
 * Messages never carry the provider's body (it may hold anything); its
 * status and a bounded code are in `details`. `maybeExecuted`: the request
 * reached the provider and no answer says whether it acted (a timeout, a 5xx
 * other than 503 "not processed").
 */
export class PspError extends SluiceError<PspErrorCode> {
  get maybeExecuted(): boolean {
    return (this.details as { maybeExecuted?: boolean } | undefined)?.maybeExecuted === true;
  }
}

export interface PayoutRequest {
  reference: string;
  amount: number;
  currency: string;
}

/**
 * The provider's payout API over HTTP. Each call has its own timeout; what
 * to do about a failure (retry, circuit, park) is the caller's business.
 */
export class PspClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly logger?: Logger,
  ) {}

  /** POST /v1/payouts with the idempotency key: the same key always names the same payout. */
  createPayout(idempotencyKey: string, request: PayoutRequest): Promise<PayoutView> {
    return this.call('POST', '/v1/payouts', { 'idempotency-key': idempotencyKey }, JSON.stringify(request)).then(toPayout);
  }

  /** The payouts the provider holds for a reference (the withdrawal id): none when nothing reached it. */
  async findPayouts(reference: string): Promise<PayoutView[]> {
    const body = (await this.call('GET', `/v1/payouts?reference=${encodeURIComponent(reference)}`, {})) as { data?: unknown };
    if (!Array.isArray(body.data)) throw new PspError('psp_bad_answer', 'the payout list has no data array', { retriable: true });
    return body.data.map(toPayout);
  }

  private async call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
      const route = path.split('?')[0];
      // A connection that never carried an answer; only a timeout leaves the request possibly processed.
      throw timedOut
        ? new PspError('psp_timeout', `${method} ${route}: no answer within ${this.timeoutMs} ms`, {
            cause,
            retriable: true,
            details: { maybeExecuted: method === 'POST' },
          })
        : new PspError('psp_unavailable', `${method} ${route}: connection failed (${networkCode(cause)})`, {
            cause,
            retriable: true,
          });
    }
    const route = path.split('?')[0];
    const text = await res.text().catch(() => '');
    if (res.status >= 400)
      this.logger?.debug({ method, route, status: res.status, body: redactBody(text) }, 'provider error body');
    if (res.status >= 500 || res.status === 429) {
      throw new PspError('psp_unavailable', `${method} ${route}: ${res.status}`, {
        retriable: true,
        details: { status: res.status, maybeExecuted: method === 'POST' && res.status !== 503 && res.status !== 429 },
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new PspError('psp_bad_answer', `${method} ${route}: ${res.status} with a body that is not JSON`, {
        cause,
        retriable: true,
        details: { status: res.status, maybeExecuted: method === 'POST' },
      });
    }
    if (res.status >= 400) {
      const code = boundedCode((json as { code?: unknown } | null)?.code, res.status);
      throw new PspError('psp_refused', `${method} ${route}: ${res.status} ${code}`, {
        details: { status: res.status, code },
      });
    }
    return json;
  }
}

function toPayout(value: unknown): PayoutView {
  const v = value as { payoutId?: unknown; status?: unknown; failureCode?: unknown };
  if (typeof v.payoutId !== 'string' || (v.status !== 'pending' && v.status !== 'paid' && v.status !== 'failed')) {
    throw new PspError('psp_bad_answer', 'an answer that is not a payout', { retriable: true, details: { maybeExecuted: true } });
  }
  return {
    payoutId: v.payoutId.slice(0, 255),
    status: v.status,
    failureCode: typeof v.failureCode === 'string' ? v.failureCode.slice(0, 64) : null,
  };
}

function networkCode(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof inner === 'string' && /^[A-Z_]{1,32}$/.test(inner) ? inner : 'network_error';
}
