import { Gauge, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { listVersions, liveVersions } from '@sluice/projection-kit';
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
        const building = (await listVersions(pool)).filter((v) => v.state === 'building');
        this.reset();
        for (const { projection, version, progress } of building) {
          this.set(
            { projection, version: String(version) },
            progress.total > 0 ? Math.min(1, progress.applied / progress.total) : 0,
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
        const building = (await listVersions(pool)).filter((v) => v.state === 'building');
        this.reset();
        for (const { projection, version, progress } of building)
          this.set({ projection, version: String(version) }, progress.rate);
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
        const live = await liveVersions(pool);
        this.reset();
        for (const { projection, version } of live) this.set({ projection }, version);
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
