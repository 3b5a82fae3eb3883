import { errorMessage, SluiceError } from '@sluice/core';
import type { PayoutView } from '../saga/saga';

export type PspErrorCode = 'psp_unavailable' | 'psp_timeout' | 'psp_refused' | 'psp_bad_answer';

/**
 * A provider call that failed. psp_unavailable and psp_timeout are
 * retriable (no answer: the payout may or may not exist) and count against
 * the circuit; psp_refused (a 4xx) is the provider's deliberate answer.
 */
export class PspError extends SluiceError<PspErrorCode> {}

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
      throw timedOut
        ? new PspError('psp_timeout', `${method} ${path}: no answer within ${this.timeoutMs} ms`, { cause, retriable: true })
        : new PspError('psp_unavailable', `${method} ${path}: ${errorMessage(cause)}`, { cause, retriable: true });
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || res.status === 429) {
      throw new PspError('psp_unavailable', `${method} ${path}: ${res.status} ${text.slice(0, 200)}`, { retriable: true });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new PspError('psp_bad_answer', `${method} ${path}: ${res.status} with a body that is not JSON`, {
        cause,
        retriable: true,
      });
    }
    if (res.status >= 400) {
      const code = typeof (json as { code?: unknown }).code === 'string' ? (json as { code: string }).code : `http_${res.status}`;
      throw new PspError('psp_refused', `${method} ${path}: ${res.status} ${text.slice(0, 500)}`, {
        details: { status: res.status, code },
      });
    }
    return json;
  }
}

function toPayout(value: unknown): PayoutView {
  const v = value as { payoutId?: unknown; status?: unknown; failureCode?: unknown };
  if (typeof v.payoutId !== 'string' || (v.status !== 'pending' && v.status !== 'paid' && v.status !== 'failed')) {
    throw new PspError('psp_bad_answer', `not a payout: ${JSON.stringify(value).slice(0, 200)}`, { retriable: true });
  }
  return { payoutId: v.payoutId, status: v.status, failureCode: typeof v.failureCode === 'string' ? v.failureCode : null };
}
