import { Counter, Gauge, type Registry } from 'prom-client';
import type { Snapshot } from './store';

/** Snapshot health per projection: how old the newest is (alert when it nears the topic's retention), its cost and size. */
export class SnapshotMetrics {
  readonly taken: Counter<'projection' | 'outcome'>;
  readonly duration: Gauge<'projection'>;
  readonly bytes: Gauge<'projection'>;
  readonly records: Gauge<'projection'>;
  private readonly newestAt = new Map<string, number>();

  constructor(registry: Registry, now: () => number = Date.now) {
    const registers = [registry];
    const newestAt = this.newestAt;
    new Gauge({
      name: 'sluice_projection_snapshot_age_seconds',
      help: "Age of the projection's newest snapshot: what a rebuild from it would replay, in time",
      labelNames: ['projection'],
      registers,
      collect() {
        for (const [projection, at] of newestAt) this.set({ projection }, (now() - at) / 1000);
      },
    });
    this.taken = new Counter({
      name: 'sluice_projection_snapshots_total',
      help: 'Snapshots attempted, by outcome (taken, busy: another was being taken, failed)',
      labelNames: ['projection', 'outcome'],
      registers,
    });
    this.duration = new Gauge({
      name: 'sluice_projection_snapshot_duration_seconds',
      help: 'How long the newest snapshot took (one REPEATABLE READ transaction)',
      labelNames: ['projection'],
      registers,
    });
    this.bytes = new Gauge({
      name: 'sluice_projection_snapshot_bytes',
      help: "Size of the newest snapshot's tables",
      labelNames: ['projection'],
      registers,
    });
    this.records = new Gauge({
      name: 'sluice_projection_snapshot_records',
      help: 'Records the newest snapshot covers (the sum of its offsets)',
      labelNames: ['projection'],
      registers,
    });
  }

  /** The newest snapshot of a projection as the catalog shows it (taken here or by another replica or the CLI). */
  newest(s: Snapshot): void {
    this.newestAt.set(s.projection, s.createdAt.getTime());
    this.duration.set({ projection: s.projection }, s.durationMs / 1000);
    this.bytes.set({ projection: s.projection }, s.bytes);
    this.records.set({ projection: s.projection }, s.records);
  }
}
