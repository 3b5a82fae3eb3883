import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { uuidv7 } from '@sluice/core';
import { loadConfig } from '@sluice/config';
import { applyMigrations, createPool, withTransaction } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { OutboxSlot, OutboxWriter, type OutboxEvent } from '@sluice/outbox';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import {
  consumeRecords,
  createTestDatabase,
  testEnv,
  uniqueName,
  waitFor,
  type ConsumedRecord,
  type TestDatabase,
} from '@sluice/testing';
import { buildRelay, type RelayApp, type RelaySeams } from './app';
import { relayConfig } from './config';

/**
 * A test database with the real outbox table, a unique topic, a writer in the
 * mode under test and relays built exactly as main.ts builds them. Shared by
 * the relay's integration and fault suites (both modes run the same tests).
 */
export class RelayHarness {
  db!: TestDatabase;
  pool!: Pool;
  kafka!: Kafka;
  admin!: Admin;
  codec!: AvroEventCodec;
  writer!: OutboxWriter;
  topic!: string;
  env!: Record<string, string>;
  private seq = 0;
  private readonly started: RelayApp[] = [];

  constructor(readonly mode: 'wal' | 'polling') {}

  async setUp(extraEnv: Record<string, string> = {}): Promise<void> {
    this.db = await createTestDatabase(`relay_${this.mode}`);
    this.pool = createPool({ url: this.db.url, applicationName: 'relay-test', max: 4 });
    await applyMigrations(this.pool, {
      folder: join(__dirname, '../../command-api/migrations'),
      table: '__migrations_command_api',
    });
    const pattern = `${uniqueName(`relay_${this.mode}`)}.\${routedByValue}`;
    this.topic = routeTopic(pattern, 'wallet');
    this.kafka = createKafka({
      ...testEnv.kafka,
      clientId: 'relay-test',
      logger: createLogger('relay-test', 'warn'),
    });
    await ensureTopics(this.kafka, [{ topic: this.topic, partitions: 12, retainForever: true }]);
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    await this.codec.registerAll();
    this.writer = new OutboxWriter(this.codec);
    this.env = {
      SLUICE_ENV: 'development',
      DATABASE_URL: this.db.url,
      ...testEnv.kafkaEnv,
      OUTBOX_TOPIC_PATTERN: pattern,
      OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
      OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
      RELAY_MODE: this.mode,
      // Relays built in the test process produce with kafkajs: jest's module loader cannot load
      // @platformatic/kafka (an ES module). The e2e suites run the relay as its own process with
      // each client (relay-faults, debezium-parity).
      RELAY_KAFKA_CLIENT: 'kafkajs',
      RELAY_STATUS_INTERVAL_MS: '100',
      RELAY_STANDBY_POLL_MS: '200',
      RELAY_RECONNECT_INITIAL_MS: '50',
      RELAY_RECONNECT_MAX_MS: '300',
      RELAY_POLL_INTERVAL_MS: '20',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    };
    // As the command side does at start-up: the slot exists before the first write.
    if (this.mode === 'wal') {
      await new OutboxSlot(this.pool, this.env.OUTBOX_SLOT_NAME!, this.env.OUTBOX_PUBLICATION_NAME!, {
        schema: 'public',
        name: 'outbox',
      }).ensure();
    }
  }

  /** Stops every relay a test started, passed or failed, so the next test starts clean. */
  async stopRelays(): Promise<void> {
    await Promise.all(this.started.splice(0).map((r) => r.close().catch(() => undefined)));
  }

  async tearDown(): Promise<void> {
    await this.stopRelays();
    await this.admin?.disconnect();
    await this.pool?.end();
    await this.db?.drop();
  }

  /** A relay built as main.ts builds it; `done` settles when it stops (rejects on a fatal error). */
  async startRelay(
    env: Record<string, string> = {},
    seams: RelaySeams = {},
  ): Promise<{ app: RelayApp; registry: Registry; done: Promise<void> }> {
    const registry = createMetricsRegistry('relay-test', false);
    const config = loadConfig(relayConfig, { ...this.env, ...env });
    const app = await buildRelay(config, createLogger('relay-test', process.env.RELAY_TEST_LOG ?? 'warn'), registry, seams);
    this.started.push(app);
    const done = app.run();
    done.catch(() => undefined);
    return { app, registry, done };
  }

  deposited(walletId: string, version: number): WalletEvent {
    const n = ++this.seq;
    return {
      type: 'FundsDeposited',
      data: {
        eventId: uuidv7(),
        walletId,
        depositId: uuidv7(),
        amount: n,
        currency: 'EUR',
        balance: n,
        version,
        occurredAt: Date.now(),
      },
    };
  }

  asOutbox(event: WalletEvent, traceparent?: string): OutboxEvent {
    return { aggregateType: 'wallet', aggregateId: event.data.walletId, event, ...(traceparent && { traceparent }) };
  }

  async commit(events: WalletEvent[], traceparent?: string): Promise<void> {
    await withTransaction(this.pool, (client) =>
      this.writer.append(
        client,
        events.map((e) => this.asOutbox(e, traceparent)),
      ),
    );
  }

  /**
   * Drops the relay's slot as an operator (or a failover without failover slots) would lose it.
   * An active slot cannot be dropped: its walsender is ended first, and the drop is tried again
   * until it wins the race against the relay's reconnect.
   */
  async dropSlot(): Promise<void> {
    const slot = this.env.OUTBOX_SLOT_NAME!;
    await waitFor(
      `slot ${slot} dropped`,
      async () => {
        await this.pool.query(
          'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
          [slot],
        );
        try {
          await this.pool.query('SELECT pg_drop_replication_slot($1)', [slot]);
          return true;
        } catch (err) {
          if ((err as { code?: string }).code === '55006') return false; // still active
          throw err;
        }
      },
      { timeoutMs: 10_000, intervalMs: 5 },
    );
  }

  /** Rows the outbox table still holds. */
  async retained(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    return rows[0]!.n;
  }

  /**
   * Every record on the topic once all of `ids` are there (duplicates included), in offset
   * order per partition. Consumed again until they are, within the timeout.
   */
  async recordsWith(ids: readonly string[], timeoutMs = 60_000): Promise<ConsumedRecord[]> {
    return waitFor(
      `${ids.length} events on ${this.topic}`,
      async () => {
        const count = await this.count();
        if (count < ids.length) return false;
        const records = await consumeRecords(this.kafka, this.topic, count);
        const seen = new Set(records.map((r) => r.message.headers?.id?.toString()));
        return ids.every((id) => seen.has(id)) && records;
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /** Records on the topic, all partitions. */
  async count(): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(this.topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  }

  async gauge(registry: Registry, name: string): Promise<number> {
    const metric = await registry.getSingleMetric(name)?.get();
    return metric?.values[0]?.value ?? NaN;
  }
}
