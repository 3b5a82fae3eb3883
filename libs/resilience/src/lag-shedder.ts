import { type Counter, Gauge, type Registry } from 'prom-client';
import { backpressureDrops } from './backpressure-metrics';
import { ResilienceError } from './errors';

/** One reading of how far behind the downstream pipeline is. */
export interface LagReading {
  /** WAL written but not yet confirmed by the relay (bytes). */
  relayLagBytes: number;
  /** WAL the server keeps for the relay's slot (bytes). */
  retainedWalBytes: number;
}

export interface LagThresholds {
  /** Shedding starts above this relay lag and refuses everything at twice it. */
  relayLagBytes: number;
  /** Likewise for retained WAL. */
  retainedWalBytes: number;
}

export interface LagShedderOptions {
  /** Reads the lag; called on a timer, never per request. Undefined: nothing to read (no slot yet). */
  probe: () => Promise<LagReading | undefined>;
  thresholds: LagThresholds;
  intervalMs: number;
  retryAfterMs?: number;
  random?: () => number;
  registry?: Registry;
  onProbeError?: (err: unknown) => void;
}

/**
 * Lag-aware load shedding: when the stages behind the front door (the relay
 * turning WAL into Kafka records) fall behind, new writes only deepen the
 * backlog and the WAL the server must keep. Past a threshold the shedder
 * refuses a growing share of writes — all of them at twice the threshold —
 * so the backlog drains while some traffic still flows. The reading is
 * refreshed on a timer; a request only compares numbers.
 */
export class LagShedder {
  private reading: LagReading | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  private readonly drops?: Counter<'stage' | 'reason'>;

  constructor(private readonly options: LagShedderOptions) {
    this.random = options.random ?? Math.random;
    if (options.registry) {
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const self = this;
      this.drops = backpressureDrops(options.registry);
      new Gauge({
        name: 'sluice_shedder_relay_lag_bytes',
        help: 'Relay lag as the shedder last read it (WAL bytes not yet confirmed by the relay)',
        registers: [options.registry],
        collect() {
          this.set(self.reading?.relayLagBytes ?? 0);
        },
      });
      new Gauge({
        name: 'sluice_shedder_retained_wal_bytes',
        help: "WAL retained for the relay's slot as the shedder last read it",
        registers: [options.registry],
        collect() {
          this.set(self.reading?.retainedWalBytes ?? 0);
        },
      });
    }
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sets the reading directly (tests, or a push-based source). */
  update(reading: LagReading | undefined): void {
    this.reading = reading;
  }

  get current(): LagReading | undefined {
    return this.reading;
  }

  /** The share of requests to refuse now, 0..1. */
  shedRatio(): { ratio: number; reason: 'relay_lag' | 'retained_wal' } {
    const r = this.reading;
    if (!r) return { ratio: 0, reason: 'relay_lag' };
    const lag = overshoot(r.relayLagBytes, this.options.thresholds.relayLagBytes);
    const wal = overshoot(r.retainedWalBytes, this.options.thresholds.retainedWalBytes);
    return lag >= wal ? { ratio: lag, reason: 'relay_lag' } : { ratio: wal, reason: 'retained_wal' };
  }

  /** Throws load_shed for the share of requests the current lag says to refuse. */
  admit(): void {
    const { ratio, reason } = this.shedRatio();
    if (ratio > 0 && this.random() < ratio) {
      this.drops?.inc({ stage: 'lag', reason });
      throw new ResilienceError(
        'load_shed',
        reason === 'relay_lag'
          ? 'the event relay is behind; new writes are refused until it catches up'
          : 'the database retains too much WAL for the event relay; new writes are refused until it drains',
        this.options.retryAfterMs ?? 2_000,
        { reason, ...this.reading },
      );
    }
  }

  private async refresh(): Promise<void> {
    try {
      this.reading = await this.options.probe();
    } catch (err) {
      // Keep the last reading: a failed probe says nothing about the lag.
      this.options.onProbeError?.(err);
    }
  }
}

function overshoot(value: number, threshold: number): number {
  if (!(threshold > 0) || value <= threshold) return 0;
  return Math.min(1, (value - threshold) / threshold);
}
