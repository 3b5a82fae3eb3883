import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, type Pool } from '@sluice/db';
import { ensureTopics } from '@sluice/messaging';
import { aclPlan, applyAcls, namespaceEnv, platformKafkaNames, removeAcls, type PlatformKafkaNames } from '@sluice/platform';
import { createTestDatabase, type TestDatabase } from '../database';
import { testEnv } from '../env';
import { testIssuer } from '../issuer';
import type { KafkaCluster } from '../kafka-cluster';
import { uniqueName } from '../names';
import { freePort, startService, type ServiceProcess } from '../processes';

export const EVENT_PARTITIONS = 12;

/**
 * The platform as `make up` runs it, on the three-node cluster instead of the single broker:
 * command API, outbox relay, projector, query API, PSP simulator and payments worker, each as
 * its own Kafka principal with the grants of `sluice acls apply`, on a fresh database and
 * topics of their own. The relay keeps the outbox's rows (no pruning), so every committed
 * event can be looked for in Kafka afterwards.
 */
export class ClusterPlatform {
  readonly services: Record<string, ServiceProcess> = {};

  private constructor(
    readonly cluster: KafkaCluster,
    readonly db: TestDatabase,
    readonly names: PlatformKafkaNames,
    readonly pool: Pool,
  ) {}

  get eventTopic(): string {
    return this.names.walletEventTopic;
  }

  /** The dead-letter topics of the platform's consumers (each exists once its consumer dead-lettered something, or created it). */
  get deadLetterTopics(): string[] {
    return [this.names.projectorDlqTopic, this.names.paymentsDlqTopic, this.names.commandDlqTopic];
  }

  static async start(cluster: KafkaCluster, label: string): Promise<ClusterPlatform> {
    const db = await createTestDatabase(label);
    const id = uniqueName(label).toLowerCase();
    const shared = namespaceEnv({ databaseUrl: db.url, id, portOffset: 0 });
    const names = platformKafkaNames(shared.OUTBOX_TOPIC_PATTERN!, {
      WALLET_COMMANDS_TOPIC: shared.WALLET_COMMANDS_TOPIC!,
      WALLET_COMMANDS_DLQ_TOPIC: shared.WALLET_COMMANDS_DLQ_TOPIC!,
      WALLET_COMMANDS_GROUP_ID: shared.WALLET_COMMANDS_GROUP_ID!,
      PROJECTOR_GROUP_ID: shared.PROJECTOR_GROUP_ID!,
      PAYMENTS_GROUP_ID: shared.PAYMENTS_GROUP_ID!,
      BONUS_GROUP_ID: shared.BONUS_GROUP_ID!,
      OBSERVER_GROUP_PREFIX: `${id}.observer`,
      KAFKA_PRINCIPAL_PREFIX: 'sluice-',
    });
    const platform = new ClusterPlatform(cluster, db, names, createPool({ url: db.url, applicationName: label, max: 4 }));
    try {
      // As `make topics` does, on the cluster: the event topic (replication factor and
      // min.insync.replicas are the cluster's defaults, 3 and 2), then every principal's grants.
      await ensureTopics(cluster.admin, [
        {
          topic: names.walletEventTopic,
          partitions: EVENT_PARTITIONS,
          retainForever: true,
          config: { 'min.insync.replicas': '2' },
        },
      ]);
      await applyAcls(cluster.admin, aclPlan(names));
      await platform.startServices({
        ...shared,
        ...testIssuer().env(),
        SCHEMA_REGISTRY_URL: testEnv.registryUrl,
        LOG_LEVEL: 'info',
        RELAY_RECONNECT_MAX_MS: '500',
        RELAY_PRUNE_INTERVAL_MS: '0',
        // Every request is counted; on a busy test machine the event-loop guard would refuse some.
        EVENT_LOOP_MAX_DELAY_MS: '0',
      });
    } catch (err) {
      await platform.stop();
      throw err;
    }
    return platform;
  }

  private async startServices(env: Record<string, string>): Promise<void> {
    const s = this.services;
    const on = (service: string, more: Record<string, string> = {}) => ({ ...env, ...this.cluster.env(service), ...more });
    // The command API first: it migrates and creates the outbox's slot, which the relay reads.
    s['command-api'] = startService('command-api', on('command-api'), await freePort());
    await s['command-api'].waitReady(90_000);
    const [pspPort, workerPort] = [await freePort(), await freePort()];
    const links = {
      PSP_URL: `http://127.0.0.1:${pspPort}`,
      PSP_WEBHOOK_URL: `http://127.0.0.1:${workerPort}/v1/psp/webhooks`,
      PSP_SETTLE_MS: '100',
    };
    s['outbox-relay'] = startService('outbox-relay', on('outbox-relay'), await freePort());
    s.projector = startService('projector', on('projector'), await freePort());
    s['query-api'] = startService('query-api', env, await freePort());
    s['psp-simulator'] = startService('psp-simulator', { ...env, ...links }, pspPort);
    s['payments-worker'] = startService('payments-worker', on('payments-worker', links), workerPort);
    await Promise.all(Object.values(s).map((x) => x.waitReady(90_000)));
  }

  /** Stops the services, then removes the platform's grants and topics from the cluster and drops its database. */
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.services).map((s) => s.kill('SIGTERM')));
    await this.pool.end();
    await removeAcls(this.cluster.admin, aclPlan(this.names)).catch(() => undefined);
    const admin = this.cluster.admin.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const mine = [this.eventTopic, this.names.commandTopic, ...this.deadLetterTopics].filter((t) => existing.has(t));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    } catch {
      // Topics left behind carry this run's unique names; the next run does not read them.
    } finally {
      await admin.disconnect();
    }
    await this.db.drop();
  }

  /**
   * POSTs to the command API as a well-behaved client: a 429 or 503 (the API shedding load) is
   * sent again after its Retry-After with the same Idempotency-Key, for up to a minute; the
   * last answer is returned.
   */
  async post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const key = uniqueName('k');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${this.services['command-api']!.url}${path}`, {
        method: 'POST',
        headers: { ...(await testIssuer().bearer('cluster-e2e')), 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if ((res.status !== 429 && res.status !== 503) || Date.now() > deadline) return { status: res.status, body: json };
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  }

  /** Opens a wallet and deposits `funds` into it. */
  async wallet(funds: number): Promise<string> {
    const opened = await this.post('/v1/wallets', { currency: 'EUR' });
    if (opened.status !== 201) throw new Error(`open → ${opened.status} ${JSON.stringify(opened.body)}`);
    const walletId = String(opened.body.walletId);
    const deposited = await this.post(`/v1/wallets/${walletId}/deposits`, { amount: funds, currency: 'EUR' });
    if (deposited.status !== 201) throw new Error(`deposit → ${deposited.status} ${JSON.stringify(deposited.body)}`);
    return walletId;
  }
}
