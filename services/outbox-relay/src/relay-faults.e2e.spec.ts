import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { uuidv7 } from '@sluice/core';
import { consumeRecords, freePort, metricValue, startService, waitFor, type ServiceProcess } from '@sluice/testing';
import { RelayHarness } from './relay-harness';

/**
 * The relay under steady load while things break, with the real broker and
 * database: kill -9 at random moments, the broker stopped for 30 s, PostgreSQL
 * restarted. After each: every committed event is in Kafka, each key's events
 * are in order, and duplicates stay within what a crash can repeat. Run with
 * each Kafka client the relay can produce with (RELAY_KAFKA_CLIENT).
 */
const run = promisify(execFile);
const ROOT = join(__dirname, '../../..');
const BATCH = 100;
jest.setTimeout(10 * 60_000);

interface Written {
  id: string;
  key: string;
  version: number;
}

describe.each(['kafkajs', 'platformatic'] as const)(
  'outbox relay on %s under faults (real processes, broker and database)',
  (client) => {
    const h = new RelayHarness('wal');
    let relay: ServiceProcess;
    const committed: Written[] = [];
    const versions = new Map<string, number>();
    const keys = Array.from({ length: 20 }, () => uuidv7());
    let loading = false;
    let load: Promise<void> = Promise.resolve();
    let writeErrors = 0;
    /** Index in `committed` of this test's first event: the topic holds every test's records. */
    let firstOfTest = 0;

    beforeAll(async () => {
      await h.setUp({ RELAY_KAFKA_CLIENT: client, RELAY_MAX_BATCH_RECORDS: String(BATCH), RELAY_MAX_RECORDS_IN_FLIGHT: '1000' });
      relay = startService('outbox-relay', { ...h.env, LOG_LEVEL: 'info' }, await freePort());
      await relay.waitReady();
      // The relay under test produces with the client this suite is for.
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      expect(metrics.split('\n').find((l) => l.startsWith('sluice_relay_info{'))).toContain(`kafka_client="${client}"`);
    });

    afterAll(async () => {
      loading = false;
      await load;
      await relay?.kill('SIGTERM');
      await h.tearDown();
    });

    /** Commits 1–3 events per transaction, each key's versions increasing, about 200 transactions/s. */
    function startLoad(): void {
      firstOfTest = committed.length;
      loading = true;
      load = (async () => {
        for (let i = 0; loading; i++) {
          const key = keys[i % keys.length]!;
          const n = 1 + (i % 3);
          const batch = Array.from({ length: n }, () => {
            const version = (versions.get(key) ?? 1) + 1;
            versions.set(key, version);
            return h.deposited(key, version);
          });
          try {
            await h.commit(batch);
            for (const e of batch) committed.push({ id: e.data.eventId, key, version: e.data.version });
          } catch {
            // PostgreSQL restarting: the transaction did not commit (or its outcome is unknown); its
            // versions are simply never seen, which the order check allows.
            writeErrors++;
            await sleep(100);
          }
          await sleep(5);
        }
      })();
    }

    async function stopLoadAndCheck(maxDuplicates: number): Promise<void> {
      loading = false;
      await load;
      const expected = committed.length;
      await waitFor('every committed event in Kafka', async () => (await h.count()) >= expected, {
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      const records = await consumeRecords(h.kafka, h.topic, await h.count(), 60_000);
      const seen = new Map<string, number>();
      for (const r of records) {
        const id = r.message.headers!.id!.toString();
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      const missing = committed.filter((w) => !seen.has(w.id));
      expect(missing).toEqual([]);
      // Only this test's fault can repeat this test's events; earlier tests' repeats stay in the
      // topic and are bounded by their own test.
      const duplicates = committed.slice(firstOfTest).reduce((sum, w) => sum + (seen.get(w.id) ?? 1) - 1, 0);
      expect(duplicates).toBeLessThanOrEqual(maxDuplicates);

      // Per-key order: in partition order, a key's versions only go up (a repeat may re-send earlier ones
      // right after a crash, which is why only first occurrences count).
      const byId = new Map(committed.map((w) => [w.id, w]));
      const firstSeen = new Set<string>();
      const last = new Map<string, number>();
      const ordered = [...records].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
      for (const r of ordered) {
        const w = byId.get(r.message.headers!.id!.toString());
        if (!w || firstSeen.has(w.id)) continue;
        firstSeen.add(w.id);
        expect(w.version).toBeGreaterThan(last.get(w.key) ?? 0);
        last.set(w.key, w.version);
      }
    }

    it('kill -9 at ten random moments: nothing lost, order kept, duplicates only from the batches in flight', async () => {
      startLoad();
      for (let crash = 0; crash < 10; crash++) {
        await sleep(500 + Math.random() * 1000);
        await relay.kill('SIGKILL');
        await sleep(200);
        await relay.restart();
      }
      await sleep(1_000);
      // Each crash can repeat at most the batch Kafka was acknowledging when it died and fewer than a
      // batch acknowledged after the last saved checkpoint.
      await stopLoadAndCheck(10 * 2 * BATCH);
    });

    it('the broker stopped for 30 s: the relay waits, then delivers everything, in order', async () => {
      const kafkaPid = join(ROOT, '.run/pids/kafka.pid');
      if (!existsSync(kafkaPid))
        throw new Error('this test stops the broker this checkout started (.run/pids/kafka.pid); run it via make test');
      startLoad();
      await sleep(1_000);
      await run(join(ROOT, 'deploy/local/kafka.sh'), ['stop']);
      const before = committed.length;
      await sleep(25_000);
      // Meanwhile: the command side kept committing, and the relay stopped reading the WAL at its cap.
      expect(committed.length - before).toBeGreaterThan(1_000);
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      expect(metricValue(metrics, 'sluice_relay_wal_reading_paused')).toBe(1);
      expect(metricValue(metrics, 'sluice_relay_records_in_flight')).toBeLessThanOrEqual(1_000 + 300);
      await sleep(5_000);
      await run(join(ROOT, 'deploy/local/kafka.sh'), ['start']);
      await sleep(2_000);
      await stopLoadAndCheck(2 * BATCH);
    });

    it('PostgreSQL restarted: the relay reconnects and resumes from its checkpoint', async () => {
      startLoad();
      await sleep(1_000);
      await run(join(ROOT, 'deploy/local/postgres.sh'), ['restart']);
      await sleep(3_000);
      await stopLoadAndCheck(2 * BATCH);
      // The restart did happen: the writers saw it.
      expect(writeErrors).toBeGreaterThan(0);
    });
  },
);
