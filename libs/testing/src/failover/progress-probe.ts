import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import type { ClusterPlatform } from './cluster-platform';

/** A partition's high watermark as first seen at `at` (Unix ms). */
export interface HighWatermarkSample {
  at: number;
  partition: number;
  high: number;
}

/** What the probe saw, each thing at the first poll that showed it (Unix ms). */
export interface ProgressTimeline {
  /** Changes of the event topic's high watermarks: a record below `high` was committed in Kafka by `at`. */
  highWatermarks: HighWatermarkSample[];
  /** `${walletId}:${version}` → when the wallet read model first showed that version (or a later one). */
  applied: Map<string, number>;
  /** Withdrawal id → when the payments worker's saga for it first existed (it applied WithdrawalRequested). */
  sagas: Map<string, number>;
}

/**
 * Watches the pipeline from outside, every `intervalMs`: the event topic's high watermarks on
 * the cluster (where the relay's records land), the wallet read model's versions (what the
 * projector applied) and the payments worker's sagas (what it applied), each poll loop on its
 * own so a stalled Kafka request does not hold the database polls back.
 */
export class ProgressProbe {
  readonly timeline: ProgressTimeline = { highWatermarks: [], applied: new Map(), sagas: new Map() };
  private running = false;
  private loops: Promise<void>[] = [];
  private admin: Admin | undefined;
  private readonly lastHigh = new Map<number, number>();
  private readonly lastVersion = new Map<string, number>();

  constructor(
    private readonly platform: ClusterPlatform,
    private readonly intervalMs = 100,
  ) {}

  async start(): Promise<void> {
    this.admin = this.platform.cluster.admin.admin();
    await this.admin.connect();
    this.running = true;
    this.loops = [this.every(() => this.pollKafka()), this.every(() => this.pollReadModel()), this.every(() => this.pollSagas())];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.admin?.disconnect();
  }

  private async every(poll: () => Promise<void>): Promise<void> {
    while (this.running) {
      const started = performance.now();
      await poll().catch(() => undefined); // a failed poll (the broker it asked is down) shows nothing new
      await sleep(Math.max(0, this.intervalMs - (performance.now() - started)));
    }
  }

  private async pollKafka(): Promise<void> {
    const offsets = await this.admin!.fetchTopicOffsets(this.platform.eventTopic);
    const at = Date.now();
    for (const { partition, high } of offsets) {
      const h = Number(high);
      if (h !== this.lastHigh.get(partition)) {
        this.lastHigh.set(partition, h);
        this.timeline.highWatermarks.push({ at, partition, high: h });
      }
    }
  }

  private async pollReadModel(): Promise<void> {
    const { rows } = await this.platform.pool.query<{ wallet_id: string; version: number }>(
      'SELECT wallet_id, version FROM wallet_balances',
    );
    const at = Date.now();
    for (const { wallet_id: wallet, version } of rows) {
      const last = this.lastVersion.get(wallet) ?? 0;
      for (let v = last + 1; v <= version; v++) this.timeline.applied.set(`${wallet}:${v}`, at);
      if (version > last) this.lastVersion.set(wallet, version);
    }
  }

  private async pollSagas(): Promise<void> {
    const { rows } = await this.platform.pool.query<{ withdrawal_id: string }>('SELECT withdrawal_id FROM payment_sagas');
    const at = Date.now();
    for (const { withdrawal_id: id } of rows) if (!this.timeline.sagas.has(id)) this.timeline.sagas.set(id, at);
  }
}
