/**
 * Records per second arriving at a consumer, measured over windows of at
 * least `windowMs`. A gap of more than `quietMs` without records is a quiet
 * spell: the rate starts again from 0, so the records after it are not taken
 * for the load before it.
 */
export class ArrivalRate {
  private windowStart = 0;
  private records = 0;
  private last = Number.NEGATIVE_INFINITY;
  private perSecond = 0;

  constructor(
    private readonly windowMs = 250,
    private readonly quietMs = 1_000,
  ) {}

  /** `records` arrived at `now` (ms). */
  note(now: number, records: number): void {
    if (now - this.last > this.quietMs) {
      this.perSecond = 0;
      this.windowStart = now;
      this.records = 0;
    }
    this.last = now;
    this.records += records;
    const elapsed = now - this.windowStart;
    if (elapsed >= this.windowMs) {
      this.perSecond = (this.records * 1_000) / elapsed;
      this.windowStart = now;
      this.records = 0;
    }
  }

  /** Records per second over the last full window; 0 until one has passed since the last quiet spell. */
  get value(): number {
    return this.perSecond;
  }
}
