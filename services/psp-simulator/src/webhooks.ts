import { createHmac, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Counter } from 'prom-client';
import type { Logger } from '@sluice/observability';
import type { Faults } from './faults';
import { fullJitterDelay } from '@sluice/resilience';

export interface WebhookEvent {
  /** The provider's event id: the same on every delivery of this event (receivers dedupe by it). */
  id: string;
  type: 'payout.pending' | 'payout.paid' | 'payout.failed';
  createdAt: string;
  data: Record<string, unknown>;
}

export const SIGNATURE_HEADER = 'psp-signature';

/**
 * The provider's signature scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>">`, computed at each delivery attempt, so a receiver can
 * refuse old (replayed) deliveries by their timestamp.
 */
export function signWebhook(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export function newEvent(type: WebhookEvent['type'], data: Record<string, unknown>, now = Date.now()): WebhookEvent {
  return { id: `evt_${randomUUID()}`, type, createdAt: new Date(now).toISOString(), data };
}

export interface WebhookSenderOptions {
  url: string;
  secret: string;
  retryMaxMs: number;
  maxAttempts: number;
  faults: () => Faults;
  logger: Logger;
  delivered: Counter<'type' | 'result'>;
}

/**
 * Delivers webhooks as providers do: at least once, retried with backoff
 * while the receiver does not answer 2xx, not at all while the provider is
 * down, and — when the faults say so — late, twice, or out of order.
 */
export class WebhookSender {
  private pending = 0;
  private stopped = false;

  constructor(private readonly options: WebhookSenderOptions) {}

  get inFlight(): number {
    return this.pending;
  }

  /** Sends the event (and a duplicate when the dice say so) in the background, after `holdMs`. */
  send(event: WebhookEvent, holdMs = 0): void {
    if (!this.options.url) return;
    const faults = this.options.faults();
    const copies = Math.random() < faults.webhookDuplicateRate ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = holdMs + Math.random() * faults.webhookDelayMs + copy * Math.random() * 500;
      void this.deliver(event, delay, copy > 0);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private async deliver(event: WebhookEvent, delayMs: number, duplicate: boolean): Promise<void> {
    this.pending++;
    try {
      if (delayMs > 0) await sleep(delayMs);
      const body = JSON.stringify(event);
      for (let attempt = 1; !this.stopped && attempt <= this.options.maxAttempts; attempt++) {
        while ((this.options.faults().down || this.options.faults().webhooksHeld) && !this.stopped) await sleep(100);
        const result = await this.post(body);
        this.options.delivered.inc({ type: event.type, result: result === 'ok' ? (duplicate ? 'duplicate' : 'ok') : 'retry' });
        if (result === 'ok') return;
        await sleep(fullJitterDelay(attempt + 1, 50, this.options.retryMaxMs));
      }
      this.options.logger.warn({ eventId: event.id }, 'webhook given up');
    } finally {
      this.pending--;
    }
  }

  private async post(body: string): Promise<'ok' | 'failed'> {
    try {
      const res = await fetch(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(this.options.secret, body, Date.now()) },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      await res.arrayBuffer();
      return res.ok ? 'ok' : 'failed';
    } catch {
      return 'failed';
    }
  }
}
