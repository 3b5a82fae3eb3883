import { Client } from 'pg';
import { Partitioners, type Kafka } from 'kafkajs';
import { quoteIdent, withDatabase } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, partitionForKey, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { foldTransaction } from '@sluice/projection-transactions';
import { WalletHistorySimulator } from '@sluice/projection-wallet';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { testEnv, uniqueName } from '@sluice/testing';

export const BENCH_DB = 'sluice_bench_projector';
export const PARTITIONS = 12;

export interface BenchSetup {
  readonly url: string;
  readonly pattern: string;
  readonly topic: string;
  readonly kafka: Kafka;
  readonly codec: AvroEventCodec;
}

/** A fresh database (dropped first) and a fresh 12-partition topic with the schemas registered under it. */
export async function freshSetup(): Promise<BenchSetup> {
  const admin = new Client({ connectionString: withDatabase(testEnv.databaseUrl, 'postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(BENCH_DB)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${quoteIdent(BENCH_DB)}`);
  await admin.end();
  const pattern = `${uniqueName('bench_projector')}.\${routedByValue}`;
  const topic = routeTopic(pattern, walletCatalog.aggregateType);
  const kafka = createKafka({
    ...testEnv.kafka,
    clientId: 'bench-projector',
    logger: createLogger('bench', 'warn'),
  });
  await ensureTopics(kafka, [{ topic, partitions: PARTITIONS, retainForever: true }]);
  const codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await codec.registerAll();
  return { url: withDatabase(testEnv.databaseUrl, BENCH_DB), pattern, topic, kafka, codec };
}

export interface Produced {
  readonly events: number;
  readonly wallets: number;
  /** Rows the transaction history holds after folding them. */
  readonly historyItems: number;
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Produces `count` events of simulated wallet histories (deposits, withdrawal
 * requests, submissions, payouts, failures with compensation), framed Avro
 * keyed by wallet, as the relay would, in order per partition.
 */
export async function produceHistories(setup: BenchSetup, count: number, progress: (n: number) => void): Promise<Produced> {
  const wallets = Math.max(1_000, Math.round(count / 100));
  const sim = new WalletHistorySimulator({ seed: 20_261_127, wallets });
  const producer = setup.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  let sent = 0;
  let items = 0;
  let bytes = 0;
  const chunk = (): WalletEvent[] => {
    const out: WalletEvent[] = [];
    while (out.length < 5_000 && sent + out.length < count) {
      out.push(sim.next());
      out.push(...sim.pendingFollowUps());
    }
    return out.slice(0, count - sent);
  };
  while (sent < count) {
    const events = chunk();
    sent += events.length;
    const messages = events.map((e) => {
      if (foldTransaction(e).kind === 'item') items++;
      const value = setup.codec.encode('wallet', e);
      bytes += value.length;
      return {
        key: e.data.walletId,
        value,
        partition: partitionForKey(e.data.walletId, PARTITIONS),
        headers: { id: e.data.eventId, type: e.type },
      };
    });
    // One send at a time: sends in flight together may land out of order, and a wallet's events must not.
    await producer.send({ topic: setup.topic, acks: -1, messages });
    progress(sent);
  }
  await producer.disconnect();
  return { events: count, wallets, historyItems: items, bytes, seconds: (performance.now() - started) / 1000 };
}

export async function dropSetup(setup: BenchSetup): Promise<void> {
  const admin = setup.kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [setup.topic] }).catch(() => undefined);
  await admin.disconnect();
  const pg = new Client({ connectionString: withDatabase(testEnv.databaseUrl, 'postgres') });
  await pg.connect();
  await pg.query(`DROP DATABASE IF EXISTS ${quoteIdent(BENCH_DB)} WITH (FORCE)`);
  await pg.end();
}
