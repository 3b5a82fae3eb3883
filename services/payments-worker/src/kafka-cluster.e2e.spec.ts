import { walletBalancesPage } from '@sluice/projection-wallet';
import { createLogger } from '@sluice/observability';
import { ClusterPlatform, KafkaCluster, runFailoverRound, type FailoverRound } from '@sluice/testing';

/**
 * Kafka as production runs it: three brokers, replication factor 3, min.insync.replicas 2.
 * While deposits and withdrawals flow, the broker leading the most partitions of the event
 * topic is killed (kill -9) and started again 12 s later. The relay, the projector and the
 * payments worker carry on through it: no committed event is lost, none is applied twice,
 * every withdrawal's saga finishes, nothing is dead-lettered.
 */
const logger = createLogger('kafka-cluster-e2e', 'info');
const cluster = new KafkaCluster();
let platform: ClusterPlatform | undefined;
let round: FailoverRound;

beforeAll(async () => {
  await cluster.start();
  platform = await ClusterPlatform.start(cluster, 'cluster_e2e');
  const wallets = await Promise.all(Array.from({ length: 24 }, () => platform!.wallet(10_000)));
  round = await runFailoverRound(
    platform,
    wallets,
    {
      depositsPerSec: 15,
      withdrawalsPerSec: 3,
      beforeKillMs: 8_000,
      downMs: 12_000,
      afterRestartMs: 3_000,
      readModel: walletBalancesPage,
    },
    (line) => logger.info(line),
  );
  const { integrity, ...figures } = round;
  logger.info({ ...figures, kafkaRecords: integrity.kafkaRecords, outboxEvents: integrity.outboxEvents }, 'failover round');
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  await cluster.stop();
}, 60_000);

describe('a three-broker cluster losing the busiest leader under load', () => {
  it('the event topic is replicated on all three brokers, and the killed broker led some of its partitions', async () => {
    const admin = cluster.admin.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [platform!.eventTopic] });
      expect(topics[0]!.partitions.map((p) => p.replicas.length)).toEqual(Array(12).fill(3));
    } finally {
      await admin.disconnect();
    }
    expect(round.movedPartitions.length).toBeGreaterThan(0);
  });

  it('the command API accepted every deposit and withdrawal through the failure', () => {
    expect(round.refused).toEqual({});
    expect(round.deposits).toBeGreaterThan(300);
    expect(round.withdrawals).toBeGreaterThan(40);
  });

  it('every committed outbox event is on the event topic', () => {
    expect(round.integrity.outboxEvents).toBeGreaterThan(round.deposits + round.withdrawals);
    expect(round.integrity.missingInKafka).toEqual([]);
  });

  it('every deposit took effect exactly once: each balance in the read model is the sum of its deposits and completed withdrawals', () => {
    expect(round.integrity.depositsNotRecorded).toEqual([]);
    expect(round.integrity.walletMismatches).toEqual([]);
    expect(round.integrity.invariantViolations).toEqual([]);
  });

  it('every withdrawal saga finished, and nothing was dead-lettered', () => {
    expect(round.integrity.unfinishedWithdrawals).toEqual([]);
    expect(round.integrity.deadLetters).toBe(0);
  });

  it('the relay and both consumers made progress again after the kill', () => {
    expect(round.recovery.relayMs).toBeDefined();
    expect(round.recovery.projectorMs).toBeDefined();
    expect(round.recovery.paymentsMs).toBeDefined();
  });
});
