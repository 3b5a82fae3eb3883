import type { Deadline } from '@sluice/resilience';
import { deadlineExceeded } from '@sluice/resilience';

/**
 * One lane per wallet: commands on the same wallet in this process run one
 * after another, so a hot wallet's writers wait in line here (holding no
 * connection and no admission slot) instead of colliding on the row's version
 * in the database and burning retries. Different wallets never wait for each
 * other. The version check in the database still guards against writers in
 * other processes. A waiter whose deadline runs out leaves the line.
 */
export class WalletLanes {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(walletId: string, deadline: Deadline | undefined, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(walletId);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous ? previous.then(() => mine) : mine;
    this.tails.set(walletId, tail);
    try {
      if (previous) await waitFor(previous, deadline);
      return await fn();
    } finally {
      done();
      if (this.tails.get(walletId) === tail) this.tails.delete(walletId);
    }
  }

  get size(): number {
    return this.tails.size;
  }
}

async function waitFor(previous: Promise<void>, deadline: Deadline | undefined): Promise<void> {
  if (!deadline) return previous;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      previous,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(deadlineExceeded('waiting behind other commands on the same wallet')),
          deadline.remainingMs(),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
