import { Counter, Histogram, type Registry } from 'prom-client';
import { errorMessage, isRetriable } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import { Bulkhead, CircuitBreaker, CircuitOpenError, ResilienceError, retry } from '@sluice/resilience';
import type { Outcome, PayoutView } from '../saga/saga';
import { PspError, type PayoutRequest, type PspClient } from './psp-client';

export interface GatewayOptions {
  provider: string;
  retries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
  queue: number;
  circuit: { failureRate: number; minimumCalls: number; windowMs: number; openMs: number };
  registry: Registry;
  logger: Logger;
}

/**
 * Every call to the provider goes through here, in this order: retry (at
 * most `retries` more tries, full-jitter backoff, only for failures that got
 * no answer) → bulkhead (a fixed number of calls at once) → circuit breaker
 * (refuses at once while open) → the call with its own timeout. The answer
 * is an Outcome the saga decides on; nothing here throws for a provider
 * failure.
 */
export class ProviderGateway {
  readonly breaker: CircuitBreaker;
  readonly bulkhead: Bulkhead;
  private readonly calls: Counter<'operation' | 'outcome'>;
  private readonly retries: Counter<'operation'>;
  private readonly seconds: Histogram<'operation'>;

  constructor(
    private readonly client: PspClient,
    private readonly options: GatewayOptions,
  ) {
    const { provider, registry, logger } = options;
    this.breaker = new CircuitBreaker({
      dependency: provider,
      failureRateThreshold: options.circuit.failureRate,
      minimumCalls: options.circuit.minimumCalls,
      windowMs: options.circuit.windowMs,
      openMs: options.circuit.openMs,
      // A refusal is the provider working as designed.
      isFailure: (err) => !(err instanceof PspError && err.code === 'psp_refused'),
      onStateChange: (c) =>
        logger.warn({ dependency: c.dependency, from: c.from, to: c.to, reason: c.reason }, `circuit ${c.to}`),
      registry,
    });
    this.bulkhead = new Bulkhead({
      dependency: provider,
      limit: options.concurrency,
      maxQueue: options.queue,
      maxQueueWaitMs: 30_000,
      registry,
    });
    this.calls = new Counter({
      name: 'sluice_payments_provider_calls_total',
      help: 'Provider calls (each try) by operation and outcome (ok, refused, timeout, unavailable, bad_answer)',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    });
    this.retries = new Counter({
      name: 'sluice_payments_provider_retries_total',
      help: 'Provider calls tried again after a failure without an answer',
      labelNames: ['operation'],
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: 'sluice_payments_provider_call_seconds',
      help: 'Duration of each provider call try',
      labelNames: ['operation'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5],
      registers: [registry],
    });
  }

  /**
   * Sends the payout (the same idempotency key on every try). When no try got
   * an answer, the outcome says whether any of them may have been executed
   * by the provider (a timeout, a lost answer).
   */
  async sendPayout(key: string, request: PayoutRequest): Promise<Outcome> {
    let maybeSent = false;
    try {
      const payout = await this.call('create', async () => {
        try {
          return await this.client.createPayout(key, request);
        } catch (err) {
          if (err instanceof PspError && err.maybeExecuted) maybeSent = true;
          throw err;
        }
      });
      return { kind: 'payout', payout, source: 'answer' };
    } catch (err) {
      return failureOutcome(err, 'create', maybeSent);
    }
  }

  /** Looks the payout up by reference: its state, or undefined when the provider holds none. */
  async lookUp(reference: string): Promise<{ found: PayoutView | undefined } | { outcome: Outcome }> {
    try {
      const payouts = await this.call('look_up', () => this.client.findPayouts(reference));
      // More than one payout per reference would be a double payment; the settled one tells the truth.
      const found = payouts.find((p) => p.status === 'paid') ?? payouts.find((p) => p.status === 'pending') ?? payouts[0];
      return { found };
    } catch (err) {
      return { outcome: failureOutcome(err, 'look_up', false) };
    }
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return retry(
      () =>
        this.bulkhead.run(() =>
          this.breaker.run(async () => {
            const end = this.seconds.startTimer({ operation });
            try {
              const result = await fn();
              this.calls.inc({ operation, outcome: 'ok' });
              return result;
            } catch (err) {
              this.calls.inc({ operation, outcome: err instanceof PspError ? err.code.replace(/^psp_/, '') : 'error' });
              throw err;
            } finally {
              end();
            }
          }),
        ),
      {
        retries: this.options.retries,
        baseMs: this.options.retryBaseMs,
        maxMs: this.options.retryMaxMs,
        // No answer: try again. An open circuit or a full bulkhead: leave it to the saga (park, later).
        shouldRetry: (err) => err instanceof PspError && isRetriable(err),
        onRetry: () => this.retries.inc({ operation }),
      },
    );
  }
}

function failureOutcome(err: unknown, operation: 'create' | 'look_up', maybeSent: boolean): Outcome {
  if (err instanceof CircuitOpenError) return { kind: 'circuit_open', maybeSent };
  if (err instanceof PspError && err.code === 'psp_refused') {
    const { status, code } = err.details as { status?: unknown; code?: unknown };
    return {
      kind: 'refused',
      operation,
      status: typeof status === 'number' ? status : 400,
      code: typeof code === 'string' ? code : 'refused',
      maybeSent,
    };
  }
  if (err instanceof PspError || err instanceof ResilienceError)
    return { kind: 'no_answer', error: errorMessage(err), maybeSent };
  throw err;
}
