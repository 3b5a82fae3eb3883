import {
  ConfigResourceTypes,
  Kafka,
  logLevel,
  Partitioners,
  type ITopicConfig,
  type LogEntry,
  type logCreator,
  type Producer,
} from 'kafkajs';
import type { Logger } from '@sluice/observability';
import { kafkajsSecurity, type KafkaSecurity } from './kafka-security';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Retries of a failed request or connection (kafkajs' own backoff); 8 by default. */
  retries?: number;
  /** TLS and SASL (kafkaSecurityFrom); plaintext without authentication when absent. */
  security?: KafkaSecurity;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logs through the service's pino logger (its own info is chatty: it logs at debug). */
function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...rest } = log;
      const target = level === logLevel.INFO ? 'debug' : (LEVELS[level] ?? 'debug');
      logger[target]({ kafka: rest }, `kafkajs: ${message}`);
    };
}

export function createKafka(options: KafkaOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    logLevel: logLevel.INFO,
    logCreator: pinoLogCreator(options.logger.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 100, retries: options.retries ?? 8, maxRetryTime: 5_000 },
    ...(options.security && kafkajsSecurity(options.security)),
  });
}

/** How a producer retries a send: from 100 ms, doubling, at most 2 s apart, without end. */
export const PRODUCER_RETRY = { initialMs: 100, maxMs: 2_000 } as const;

/**
 * An idempotent producer (acks=all, sequence numbers per partition), so a
 * retried request never duplicates or reorders a partition. Callers set the
 * partition of every record themselves (murmur2, see partitionForKey); the
 * partitioner here only serves records without one. Retries are unbounded,
 * as the idempotent protocol expects: a broker outage stalls the producer
 * (and the relay behind it) instead of failing records.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { initialRetryTime: PRODUCER_RETRY.initialMs, maxRetryTime: PRODUCER_RETRY.maxMs, retries: Number.MAX_SAFE_INTEGER },
  });
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Event topics keep every event for replay: no time- or size-based deletion. */
  retainForever?: boolean;
  config?: Record<string, string>;
}

/**
 * Creates the topics that are missing; existing topics are left as they are
 * (partition counts only grow by an explicit operator action, since growing
 * them moves keys to other partitions).
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = specs
      .filter((s) => !existing.has(s.topic))
      .map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: -1,
        configEntries: Object.entries({
          ...(s.retainForever ? { 'retention.ms': '-1', 'retention.bytes': '-1' } : {}),
          ...s.config,
        }).map(([name, value]) => ({ name, value })),
      }));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * How long a command topic keeps its records (Kafka's own default, set
 * explicitly): an inbox deduping the topic's commands keeps its rows longer
 * than this (docs/data-lifecycle.md).
 */
export const COMMAND_TOPIC_RETENTION_HOURS = 7 * 24;

/** The topic's retention.ms as the broker has it; -1 means kept for ever. */
export async function topicRetentionMs(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    const value = resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
    const ms = Number(value);
    if (value === undefined || !Number.isFinite(ms)) throw new Error(`topic ${topic}: no retention.ms in its configuration`);
    return ms;
  } finally {
    await admin.disconnect();
  }
}

export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const t = meta.topics[0];
    if (!t) throw new Error(`topic ${topic} not found`);
    return t.partitions.length;
  } finally {
    await admin.disconnect();
  }
}
