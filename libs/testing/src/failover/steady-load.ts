import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterPlatform } from './cluster-platform';

/** A deposit or withdrawal the command API accepted: when it was sent (its commit is later) and what it did. */
export interface AcceptedOperation {
  kind: 'deposit' | 'withdrawal';
  walletId: string;
  /** The deposit's or the withdrawal's id. */
  id: string;
  amount: number;
  /** A deposit's: the wallet's version after it (the read model shows it once the event is applied). */
  version?: number;
  sentAt: number;
}

export interface LoadRates {
  depositsPerSec: number;
  withdrawalsPerSec: number;
}

/** Requests of one kind under way at once, at most: past it the load waits, so a slow platform is not buried. */
const MAX_IN_FLIGHT = 64;

/**
 * Deposits and withdrawals at a steady rate (open model: a slow answer does not slow the
 * offered rate, up to MAX_IN_FLIGHT requests under way), spread round-robin over the wallets,
 * until stopped. Withdrawals are small against each wallet's funds, so none is refused for
 * want of money.
 */
export class SteadyLoad {
  readonly accepted: AcceptedOperation[] = [];
  /** Answers other than 201/202, by status: the platform must refuse none under a broker failure. */
  readonly refused = new Map<number, number>();
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly platform: ClusterPlatform,
    private readonly wallets: readonly string[],
    private readonly rates: LoadRates,
  ) {}

  start(): void {
    this.running = true;
    this.loops = [
      this.loop(this.rates.depositsPerSec, (i) => this.deposit(this.wallets[i % this.wallets.length]!, 1 + (i % 9))),
      this.loop(this.rates.withdrawalsPerSec, (i) => this.withdraw(this.wallets[(i * 7) % this.wallets.length]!, 1 + (i % 3))),
    ];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(perSec: number, send: (i: number) => Promise<void>): Promise<void> {
    if (perSec <= 0) return;
    const inFlight = new Set<Promise<void>>();
    const start = performance.now();
    for (let i = 0; this.running; i++) {
      const due = start + (i * 1000) / perSec;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const p = send(i).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }

  private async deposit(walletId: string, amount: number): Promise<void> {
    const sentAt = Date.now();
    const res = await this.platform.post(`/v1/wallets/${walletId}/deposits`, { amount, currency: 'EUR' });
    if (res.status !== 201) return this.refuse(res.status);
    this.accepted.push({
      kind: 'deposit',
      walletId,
      id: String(res.body.depositId),
      amount,
      version: Number(res.body.version),
      sentAt,
    });
  }

  private async withdraw(walletId: string, amount: number): Promise<void> {
    const sentAt = Date.now();
    const res = await this.platform.post(`/v1/wallets/${walletId}/withdrawals`, { amount, currency: 'EUR' });
    if (res.status !== 202) return this.refuse(res.status);
    this.accepted.push({ kind: 'withdrawal', walletId, id: String(res.body.withdrawalId), amount, sentAt });
  }

  private refuse(status: number): void {
    this.refused.set(status, (this.refused.get(status) ?? 0) + 1);
  }
}
