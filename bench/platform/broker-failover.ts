import { walletBalancesPage } from '@sluice/projection-wallet';
import { ClusterPlatform, KafkaCluster, runFailoverRound, type FailoverRound } from '@sluice/testing';
import { writeResult } from '../results';
import { percentile, printTable } from '../stats';

/**
 * How long the platform takes to recover from losing a Kafka broker. On the local three-node
 * cluster (deploy/local/kafka-cluster.sh: RF 3, min.insync.replicas 2, Kafka's own timeouts),
 * with every service a process of its own as its own principal, deposits and withdrawals flow
 * at a steady rate; per round the broker leading the most partitions of the event topic is
 * killed (kill -9) and started again after `down` seconds. Per round, from the kill:
 *   relay      until the first event committed after the kill is in Kafka (the topic's high watermark past it)
 *   projector  until the first deposit sent after the kill, on a partition whose leader died, is in the read model
 *   payments   until the first withdrawal sent after the kill, on such a partition, has its saga
 *   visible    the longest any deposit of the round took from its request to the read model (p50 beside it)
 * and whether anything was lost, doubled, left unfinished or dead-lettered. The cluster is
 * started and stopped by the bench; the platform is started once and runs every round.
 *   node dist/bench/platform/broker-failover.js [rounds=3] [deposits/s=20] [withdrawals/s=3] [down seconds=12]
 */
const ROUNDS = Number(process.argv[2] ?? 3);
const DEPOSITS_PER_SEC = Number(process.argv[3] ?? 20);
const WITHDRAWALS_PER_SEC = Number(process.argv[4] ?? 3);
const DOWN_SEC = Number(process.argv[5] ?? 12);
const WALLETS = 24;

const say = (line: string) => console.log(line);
const ms = (v: number | undefined) => (v === undefined ? 'none' : Math.round(v));
const median = (values: (number | undefined)[]) => {
  const defined = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return defined.length === 0 ? undefined : percentile(defined, 50);
};

function problems(r: FailoverRound): string {
  const i = r.integrity;
  const found = [
    i.missingInKafka.length > 0 && `${i.missingInKafka.length} events not in Kafka`,
    i.depositsNotRecorded.length > 0 && `${i.depositsNotRecorded.length} deposits not recorded`,
    i.walletMismatches.length > 0 && `${i.walletMismatches.length} wallets wrong in the read model`,
    i.unfinishedWithdrawals.length > 0 && `${i.unfinishedWithdrawals.length} sagas unfinished`,
    i.invariantViolations.length > 0 && `${i.invariantViolations.length} invariant violations`,
    i.deadLetters > 0 && `${i.deadLetters} dead letters`,
    Object.keys(r.refused).length > 0 && `refused ${JSON.stringify(r.refused)}`,
  ].filter(Boolean);
  return found.length === 0 ? 'none' : found.join('; ');
}

async function main(): Promise<void> {
  const cluster = new KafkaCluster();
  say(`starting the three-node cluster (${cluster.brokers.join(',')})`);
  await cluster.start();
  let platform: ClusterPlatform | undefined;
  const rounds: FailoverRound[] = [];
  try {
    platform = await ClusterPlatform.start(cluster, 'failover_bench');
    const wallets = await Promise.all(Array.from({ length: WALLETS }, () => platform!.wallet(1_000_000)));
    for (let round = 1; round <= ROUNDS; round++) {
      say(
        `round ${round}: ${DEPOSITS_PER_SEC} deposits/s and ${WITHDRAWALS_PER_SEC} withdrawals/s; the busiest leader down for ${DOWN_SEC} s`,
      );
      // Every replica back in sync first, so each round loses a broker of a whole cluster.
      await cluster.waitForInSync([platform.eventTopic]);
      const r = await runFailoverRound(
        platform,
        wallets,
        {
          depositsPerSec: DEPOSITS_PER_SEC,
          withdrawalsPerSec: WITHDRAWALS_PER_SEC,
          beforeKillMs: 8_000,
          downMs: DOWN_SEC * 1000,
          afterRestartMs: 3_000,
          readModel: walletBalancesPage,
        },
        (line) => say(`  ${line}`),
      );
      rounds.push(r);
      say(
        `  relay ${ms(r.recovery.relayMs)} ms, projector ${ms(r.recovery.projectorMs)} ms, payments ${ms(r.recovery.paymentsMs)} ms`,
      );
    }
  } finally {
    await platform?.stop();
    await cluster.stop();
  }

  printTable(
    'Broker failover: ms from kill -9 of the busiest leader until each component applies again (3 brokers, RF 3, min ISR 2)',
    [
      'round',
      'killed',
      'partitions moved',
      'relay',
      'projector',
      'payments',
      'visible max',
      'visible p50',
      'restart',
      'lost/doubled',
    ],
    [
      ...rounds.map((r, i) => [
        i + 1,
        `node ${r.killed}`,
        r.movedPartitions.length,
        ms(r.recovery.relayMs),
        ms(r.recovery.projectorMs),
        ms(r.recovery.paymentsMs),
        ms(r.recovery.visibleGapMs),
        ms(r.recovery.visibleP50Ms),
        r.restartMs,
        problems(r),
      ]),
      [
        'median',
        '',
        '',
        ms(median(rounds.map((r) => r.recovery.relayMs))),
        ms(median(rounds.map((r) => r.recovery.projectorMs))),
        ms(median(rounds.map((r) => r.recovery.paymentsMs))),
        ms(median(rounds.map((r) => r.recovery.visibleGapMs))),
        ms(median(rounds.map((r) => r.recovery.visibleP50Ms))),
        ms(median(rounds.map((r) => r.restartMs))),
        '',
      ],
    ],
  );
  const file = writeResult('broker-failover', {
    settings: { depositsPerSec: DEPOSITS_PER_SEC, withdrawalsPerSec: WITHDRAWALS_PER_SEC, downSec: DOWN_SEC, wallets: WALLETS },
    rounds: rounds.map(({ integrity, ...r }) => ({
      ...r,
      integrity: {
        outboxEvents: integrity.outboxEvents,
        kafkaRecords: integrity.kafkaRecords,
        duplicatesInKafka: integrity.duplicatesInKafka,
        problems: problems({ ...r, integrity }),
      },
    })),
  });
  say(`\nwritten to ${file}`);
  if (rounds.some((r) => problems(r) !== 'none')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
