import type { Admin, IHeaders, Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { applyMigrations, createPool } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, partitionForKey, routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Logger, type Registry } from '@sluice/observability';
import { checkpointsOf, liveVersion, type ProjectionDefinition } from '@sluice/projection-kit';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { createTestDatabase, testEnv, uniqueName, waitFor, type TestDatabase } from '@sluice/testing';
import { DeadLetterPublisher } from '../engine/dead-letters';
import { ProjectorMetrics } from '../engine/metrics';
import { ProjectorEngine, type ProjectorEngineOptions } from '../engine/projector-engine';
import { LiveTargets, type TargetResolver } from '../engine/targets';
import { PROJECTOR_MIGRATIONS } from '../migrations';
import { PROJECTIONS } from '../projections';
import { ensureLiveVersion } from '../store/versions';

export interface Running {
  engine: ProjectorEngine;
  /** A fresh registry per engine, so its counters show what this run did. */
  registry: Registry;
}

/**
 * The real Kafka, registry and PostgreSQL for a projector integration test:
 * a fresh database with the projector's tables and the live versions of the
 * projections, a unique topic, a dead-letter topic, and engines to start.
 */
export class ProjectorHarness {
  readonly engines: ProjectorEngine[] = [];
  readonly logger: Logger = createLogger('projector-int', 'silent');
  readonly dlqTopic: string;
  readonly groupPrefix: string;

  private constructor(
    readonly db: TestDatabase,
    readonly pool: Pool,
    readonly kafka: Kafka,
    readonly admin: Admin,
    readonly producer: Producer,
    readonly codec: AvroEventCodec,
    readonly pattern: string,
    readonly topic: string,
    readonly partitions: number,
    readonly projections: readonly ProjectionDefinition[],
  ) {
    this.groupPrefix = uniqueName('it_group');
    this.dlqTopic = `${this.groupPrefix}.dlq`;
  }

  static async create(
    label: string,
    options: { partitions?: number; projections?: readonly ProjectionDefinition[] } = {},
  ): Promise<ProjectorHarness> {
    const partitions = options.partitions ?? 12;
    const projections = options.projections ?? PROJECTIONS;
    const db = await createTestDatabase(label);
    // Pipelined, as the projector's own pool (main.ts): the engine's statements travel as they do in production.
    const pool = createPool({ url: db.url, applicationName: `${label}-int`, max: 12, pipeline: true });
    await applyMigrations(pool, PROJECTOR_MIGRATIONS);
    const pattern = `${uniqueName(`it_${label}`)}.\${routedByValue}`;
    const topic = routeTopic(pattern, walletCatalog.aggregateType);
    const kafka = createKafka({
      ...testEnv.kafka,
      clientId: `${label}-int`,
      logger: createLogger('kafka', 'silent'),
    });
    await ensureTopics(kafka, [{ topic, partitions }]);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    await codec.registerAll();
    const h = new ProjectorHarness(db, pool, kafka, admin, producer, codec, pattern, topic, partitions, projections);
    await ensureTopics(kafka, [{ topic: h.dlqTopic, partitions: 1 }]);
    for (const def of projections) await ensureLiveVersion(pool, def, { consumerGroup: 'none', topic });
    return h;
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.stop()));
    await this.producer.disconnect();
    await this.admin.deleteTopics({ topics: [this.topic, this.dlqTopic] }).catch(() => undefined);
    await this.admin.disconnect();
    await this.pool.end();
    await this.db.drop();
  }

  group(name: string): string {
    return `${this.groupPrefix}_${name}`;
  }

  async startEngine(
    groupId: string,
    options: { targets?: TargetResolver; projections?: readonly ProjectionDefinition[] } & Partial<ProjectorEngineOptions> = {},
  ): Promise<Running> {
    const registry = createMetricsRegistry('projector-int', false);
    const engine = new ProjectorEngine({
      kafka: this.kafka,
      pool: this.pool,
      codec: this.codec,
      targets: new LiveTargets(options.projections ?? this.projections),
      topic: this.topic,
      groupId,
      logger: this.logger,
      metrics: new ProjectorMetrics(registry),
      consumer: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 200 },
      retry: { maxAttempts: 3, record: { baseMs: 20, maxMs: 200 }, systemic: { baseMs: 50, maxMs: 1_000 } },
      deadLetters: new DeadLetterPublisher(this.producer, groupId, this.dlqTopic),
      notify: true,
      ...options,
    });
    this.engines.push(engine);
    await engine.start();
    return { engine, registry };
  }

  async stopEngine(engine: ProjectorEngine): Promise<void> {
    await engine.stop();
    this.engines.splice(this.engines.indexOf(engine), 1);
  }

  async produce(events: readonly WalletEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 2_000) {
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: events.slice(i, i + 2_000).map((e) => ({
          key: e.data.walletId,
          value: this.codec.encode('wallet', e),
          partition: partitionForKey(e.data.walletId, this.partitions),
          headers: { id: e.data.eventId, type: e.type },
        })),
      });
    }
  }

  async produceRaw(key: string, value: Buffer, headers: IHeaders = {}): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key, value, headers, partition: partitionForKey(key, this.partitions) }],
    });
  }

  async highWatermarks(): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(this.topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  /** The stored next offsets of a projection's live version (or `version`). */
  async checkpoints(projection: string, version?: number): Promise<Map<number, bigint>> {
    const v = version ?? (await liveVersion(this.pool, projection))?.version;
    return v === undefined ? new Map() : checkpointsOf(this.pool, { projection, version: v }, this.topic);
  }

  /** Waits until every partition's checkpoint of each projection's live version has reached the high watermark. */
  async caughtUp(projections: readonly string[] = this.projections.map((p) => p.name), timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${projections.join(', ')} to reach the high watermarks`,
      async () => {
        const high = await this.highWatermarks();
        for (const p of projections) {
          const stored = await this.checkpoints(p);
          if (![...high].every(([partition, h]) => h === 0n || stored.get(partition) === h)) return false;
        }
        return true;
      },
      { timeoutMs },
    );
  }
}

/** Sum of a counter's or gauge's values whose labels include `labels`. */
export async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`metric ${name} is not registered`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
