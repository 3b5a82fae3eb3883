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
import { createTestDatabase, testEnv, uniqueName, type TestDatabase } from '@sluice/testing';
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
    this.writer = new OutboxWriter(this.codec, this.mode);
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
