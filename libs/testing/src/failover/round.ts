import type { ReadModelBalances } from '@sluice/invariants';
import { setTimeout as sleep } from 'node:timers/promises';
import { partitionForKey } from '@sluice/messaging';
import type { ClusterNode } from '../kafka-cluster';
import { EVENT_PARTITIONS, type ClusterPlatform } from './cluster-platform';
import { checkIntegrity, settle, type IntegrityReport } from './integrity';
import { ProgressProbe } from './progress-probe';
import { recoveryTimes, type RecoveryTimes } from './recovery';
import { SteadyLoad, type LoadRates } from './steady-load';

export interface FailoverRoundOptions extends LoadRates {
  /** Load before the kill, so every component is warm and busy when the broker dies. */
  beforeKillMs: number;
  /** How long the killed broker stays down. */
  downMs: number;
  /** Load after the broker is back and in the cluster. */
  afterRestartMs: number;
  /** The wallet read model's balances, page by page (the wallet projection's walletBalancesPage). */
  readModel: ReadModelBalances;
}

export interface FailoverRound {
  killed: ClusterNode;
  /** The event topic's partitions the killed broker led. */
  movedPartitions: number[];
  /** Deposits and withdrawals accepted, and answers other than those. */
  deposits: number;
  withdrawals: number;
  refused: Record<string, number>;
  /** How long the killed broker took to start and rejoin. */
  restartMs: number;
  recovery: RecoveryTimes;
  integrity: IntegrityReport;
}

/**
 * One failure under load: deposits and withdrawals flow at a steady rate, the broker that
 * leads the most partitions of the event topic is killed (kill -9), started again after
 * `downMs`, the load stops `afterRestartMs` later; once everything caught up, what was lost
 * or doubled is looked for and each component's recovery time is read off the probe.
 */
export async function runFailoverRound(
  platform: ClusterPlatform,
  wallets: readonly string[],
  options: FailoverRoundOptions,
  say: (line: string) => void = () => undefined,
): Promise<FailoverRound> {
  const { cluster } = platform;
  const probe = new ProgressProbe(platform);
  const load = new SteadyLoad(platform, wallets, options);
  await probe.start();
  load.start();
  let killed: ClusterNode | undefined;
  let restarted = false;
  try {
    await sleep(options.beforeKillMs);
    const target = await cluster.busiestLeader(platform.eventTopic);
    killed = target.node;
    await cluster.kill(target.node);
    const killAt = Date.now();
    say(`killed node ${target.node} (leader of partitions ${target.partitions.join(',')}) under load`);
    await sleep(options.downMs);
    const restartStarted = Date.now();
    await cluster.restart(target.node);
    restarted = true;
    const restartMs = Date.now() - restartStarted;
    say(`node ${target.node} back after ${restartMs} ms of start-up`);
    await sleep(options.afterRestartMs);
    await load.stop();
    say(`load stopped: ${load.accepted.length} accepted; waiting for the pipeline to catch up`);
    await settle(platform, load.accepted);
    await probe.stop();
    const integrity = await checkIntegrity(platform, load.accepted, options.readModel);
    const recovery = recoveryTimes({
      killAt,
      movedPartitions: target.partitions,
      events: integrity.events,
      operations: load.accepted.map((o) => ({ ...o, partition: partitionForKey(o.walletId, EVENT_PARTITIONS) })),
      timeline: probe.timeline,
    });
    return {
      killed: target.node,
      movedPartitions: target.partitions,
      deposits: load.accepted.filter((o) => o.kind === 'deposit').length,
      withdrawals: load.accepted.filter((o) => o.kind === 'withdrawal').length,
      refused: Object.fromEntries([...load.refused].map(([status, n]) => [String(status), n])),
      restartMs,
      recovery,
      integrity,
    };
  } finally {
    await load.stop();
    await probe.stop();
    // A round that failed half-way leaves no node down for the next.
    if (killed !== undefined && !restarted) await cluster.restart(killed).catch(() => undefined);
  }
}
