import type { WalletEvent } from '@sluice/schemas';

/** mulberry32: a small seeded generator, so a simulated history can be produced again exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Pending {
  id: string;
  amount: number;
  submitted: boolean;
}

interface SimWallet {
  id: string;
  version: number;
  balance: number;
  held: number;
  pending: Pending[];
}

/**
 * Plausible wallet histories for tests and benchmarks: wallets open, take
 * deposits and request withdrawals that are submitted and then complete, or
 * fail and are compensated, with balance, held amount and version consistent
 * at every event, as the command side would write them. Deterministic for a
 * seed. The events come out in a valid order per wallet; interleaving across
 * wallets is random.
 */
export class WalletHistorySimulator {
  private readonly random: () => number;
  private readonly wallets: SimWallet[] = [];
  private clock: number;

  constructor(private readonly options: { seed: number; wallets: number; currency?: string; startAt?: number }) {
    this.random = prng(options.seed);
    this.clock = options.startAt ?? Date.UTC(2025, 5, 1);
  }

  /** A UUID (version 4 layout) drawn from the seeded generator. */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.random() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(this.random() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /** The next event of the stream. */
  next(): WalletEvent {
    this.clock += 1 + Math.floor(this.random() * 5);
    if (this.wallets.length < this.options.wallets && (this.wallets.length === 0 || this.random() < 0.2)) return this.open();
    const w = this.wallets[Math.floor(this.random() * this.wallets.length)]!;
    const roll = this.random();
    const pending = w.pending[0];
    if (pending && roll < 0.35) return pending.submitted ? this.settle(w, pending) : this.submit(w, pending);
    const available = w.balance - w.held;
    if (roll < 0.5 && available >= 100) return this.request(w, 1 + Math.floor(this.random() * Math.min(available, 5_000)));
    return this.deposit(w, 1 + Math.floor(this.random() * 10_000));
  }

  take(count: number): WalletEvent[] {
    return Array.from({ length: count }, () => this.next());
  }

  private base(w: SimWallet) {
    w.version += 1;
    return { eventId: this.uuid(), walletId: w.id, version: w.version, occurredAt: this.clock };
  }

  private open(): WalletEvent {
    const w: SimWallet = { id: this.uuid(), version: 0, balance: 0, held: 0, pending: [] };
    this.wallets.push(w);
    return { type: 'WalletOpened', data: { ...this.base(w), currency: this.options.currency ?? 'EUR' } };
  }

  private deposit(w: SimWallet, amount: number): WalletEvent {
    w.balance += amount;
    return {
      type: 'FundsDeposited',
      data: { ...this.base(w), depositId: this.uuid(), amount, currency: this.options.currency ?? 'EUR', balance: w.balance },
    };
  }

  private request(w: SimWallet, amount: number): WalletEvent {
    w.held += amount;
    const p: Pending = { id: this.uuid(), amount, submitted: false };
    w.pending.push(p);
    return {
      type: 'WithdrawalRequested',
      data: {
        ...this.base(w),
        withdrawalId: p.id,
        amount,
        currency: this.options.currency ?? 'EUR',
        balance: w.balance,
        held: w.held,
      },
    };
  }

  private submit(w: SimWallet, p: Pending): WalletEvent {
    p.submitted = true;
    return {
      type: 'WithdrawalSubmitted',
      data: { ...this.base(w), withdrawalId: p.id, provider: 'psp-sim', providerReference: null },
    };
  }

  /** Completes the withdrawal, or fails it: a failure is followed at once by its compensation, as the command side writes them. */
  private settle(w: SimWallet, p: Pending): WalletEvent {
    if (this.random() < 0.8) {
      w.pending.shift();
      w.balance -= p.amount;
      w.held -= p.amount;
      return {
        type: 'WithdrawalCompleted',
        data: {
          ...this.base(w),
          withdrawalId: p.id,
          amount: p.amount,
          currency: this.options.currency ?? 'EUR',
          balance: w.balance,
          held: w.held,
          providerReference: `psp-${p.id.slice(0, 8)}`,
        },
      };
    }
    // Failed now; the compensation is this wallet's next event (see compensation()).
    p.submitted = false;
    const failed: WalletEvent = {
      type: 'WithdrawalFailed',
      data: { ...this.base(w), withdrawalId: p.id, reason: 'provider_declined', detail: 'the provider declined the payout' },
    };
    w.pending.shift();
    w.held -= p.amount;
    this.compensations.push({ wallet: w, withdrawal: p });
    return failed;
  }

  private readonly compensations: { wallet: SimWallet; withdrawal: Pending }[] = [];

  /** Events owed right after the last one (a failure's compensation); take them before calling next() again. */
  pendingFollowUps(): WalletEvent[] {
    return this.compensations.splice(0).map(({ wallet: w, withdrawal: p }) => ({
      type: 'WithdrawalCompensated',
      data: {
        ...this.base(w),
        withdrawalId: p.id,
        amount: p.amount,
        currency: this.options.currency ?? 'EUR',
        balance: w.balance,
        held: w.held,
      },
    }));
  }
}

/** `count` events of plausible histories, follow-ups (compensations) in place. */
export function simulateWalletHistories(options: {
  seed: number;
  wallets: number;
  events: number;
  startAt?: number;
}): WalletEvent[] {
  const sim = new WalletHistorySimulator(options);
  const out: WalletEvent[] = [];
  while (out.length < options.events) {
    out.push(sim.next());
    out.push(...sim.pendingFollowUps());
  }
  return out.slice(0, options.events);
}
