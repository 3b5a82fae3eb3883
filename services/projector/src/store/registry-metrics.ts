import { Gauge, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { countOpenParked } from './parked';

/**
 * What the registry tables know, read at scrape time: rebuild progress (the
 * rebuild runs in the CLI, which nothing scrapes, and records its progress
 * here), live versions and parked records. A scrape while the database is
 * down leaves the last values.
 */
export function registerRegistryMetrics(pool: Pool, registry: Registry): void {
  const registers = [registry];
  const safely = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch {
      // The postgres readiness check reports the outage.
    }
  };
  new Gauge({
    name: 'sluice_projection_rebuild_progress_ratio',
    help: 'Share of the topic a building projection version has applied (0..1)',
    labelNames: ['projection', 'version'],
    registers,
    async collect() {
      await safely(async () => {
        const { rows } = await pool.query<{ projection: string; version: number; applied: string; total: string }>(
          `SELECT projection, version, progress_applied AS applied, progress_total AS total FROM projection_versions WHERE state = 'building'`,
        );
        this.reset();
        for (const r of rows) {
          const total = Number(r.total);
          this.set(
            { projection: r.projection, version: String(r.version) },
            total > 0 ? Math.min(1, Number(r.applied) / total) : 0,
          );
        }
      });
    },
  });
  new Gauge({
    name: 'sluice_projection_rebuild_events_per_second',
    help: 'Apply rate of a building projection version, as it last reported',
    labelNames: ['projection', 'version'],
    registers,
    async collect() {
      await safely(async () => {
        const { rows } = await pool.query<{ projection: string; version: number; rate: number }>(
          `SELECT projection, version, progress_rate AS rate FROM projection_versions WHERE state = 'building'`,
        );
        this.reset();
        for (const r of rows) this.set({ projection: r.projection, version: String(r.version) }, r.rate);
      });
    },
  });
  new Gauge({
    name: 'sluice_projection_live_version',
    help: 'The version of each projection that readers see',
    labelNames: ['projection'],
    registers,
    async collect() {
      await safely(async () => {
        const { rows } = await pool.query<{ name: string; live_version: number | null }>(
          'SELECT name, live_version FROM projections',
        );
        this.reset();
        for (const r of rows) if (r.live_version !== null) this.set({ projection: r.name }, r.live_version);
      });
    },
  });
  new Gauge({
    name: 'sluice_projection_parked_records',
    help: 'Records parked and not yet re-driven or skipped, by state (dead, held)',
    labelNames: ['projection', 'version', 'state'],
    registers,
    async collect() {
      await safely(async () => {
        const rows = await countOpenParked(pool);
        this.reset();
        for (const r of rows) this.set({ projection: r.projection, version: String(r.version), state: r.state }, r.count);
      });
    },
  });
}
