import { exponentialDelay } from '@sluice/resilience';

/**
 * The wait of a polling loop between rounds that found nothing. Work that
 * arrives in this process wakes the loop at once (wake()); polling is for what
 * it cannot hear of: work written by another replica, retries falling due, a
 * circuit turning half-open. So the wait starts at the poll interval and
 * doubles with each empty round in a row, up to `idleMaxMs`, and a round that
 * found work starts it over. An idle worker then polls every idleMaxMs instead
 * of every pollMs. `dueInMs`, when the loop knows when its next item falls due,
 * cuts the wait to that (never below the poll interval).
 */
export class PollWait {
  private emptyRounds = 0;
  private woken = false;
  private interrupt: (() => void) | undefined;

  constructor(
    private readonly pollMs: number,
    private readonly idleMaxMs: number,
  ) {}

  /** Work arrived: the wait in progress, or the next one, ends at once. */
  wake(): void {
    this.woken = true;
    this.interrupt?.();
  }

  /** A round found work: the next empty round waits the poll interval again. */
  worked(): void {
    this.emptyRounds = 0;
  }

  /** How long the next empty round would wait, before dueInMs. */
  get nextWaitMs(): number {
    return Math.max(this.pollMs, exponentialDelay(this.emptyRounds + 1, this.pollMs, this.idleMaxMs));
  }

  /** Waits after a round that found nothing; resolves early on wake(). */
  async idle(dueInMs = Infinity): Promise<void> {
    const ms = Math.min(this.nextWaitMs, Math.max(this.pollMs, dueInMs));
    this.emptyRounds++;
    if (!this.woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.interrupt = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.interrupt = undefined;
    }
    if (this.woken) {
      this.woken = false;
      this.emptyRounds = 0;
    }
  }
}
