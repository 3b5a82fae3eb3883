import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { createKafka, type KafkaSecurity } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { kafkaSecurityOf, localKafkaEnv, START_HINT } from './env';
import { repoRoot } from './processes';
import { waitFor } from './wait';

const SCRIPT = join(repoRoot(), 'deploy/local/kafka-cluster.sh');
export const CLUSTER_NODES = [1, 2, 3] as const;
export type ClusterNode = (typeof CLUSTER_NODES)[number];

/**
 * The three-node KRaft cluster of deploy/local/kafka-cluster.sh (RF 3, min.insync.replicas 2),
 * secured as the single broker, with the same principals and passwords. Beside that broker on
 * ports of its own: KAFKA_CLUSTER_PORT (19092) for node 1, the next two for nodes 2 and 3.
 */
export class KafkaCluster {
  readonly basePort: number;
  readonly brokers: string[];
  private adminClient: Kafka | undefined;

  constructor(basePort = Number(process.env.KAFKA_CLUSTER_PORT ?? 19092)) {
    this.basePort = basePort;
    this.brokers = CLUSTER_NODES.map((n) => this.address(n));
  }

  address(node: ClusterNode): string {
    return `127.0.0.1:${this.basePort + node - 1}`;
  }

  /** Node ids are 1..3 in the order of their ports. */
  nodeOf(address: { host: string; port: number }): ClusterNode {
    const node = address.port - this.basePort + 1;
    if (!CLUSTER_NODES.includes(node as ClusterNode))
      throw new Error(`${address.host}:${address.port} is no node of the cluster`);
    return node as ClusterNode;
  }

  /** Starts the three nodes (formatting them the first time) and waits until all three are brokers of the cluster. */
  async start(): Promise<void> {
    await this.script('start');
    await this.waitForBrokers(CLUSTER_NODES.length);
  }

  /** Stops every node (SIGTERM, then SIGKILL after 30 s); the data stays for the next start. */
  async stop(): Promise<void> {
    await this.script('stop');
  }

  /** kill -9 of one node, as a crash: it returns once the process is gone. */
  async kill(node: ClusterNode): Promise<void> {
    await this.script('kill', String(node));
  }

  /** Starts a killed or stopped node again and waits until the cluster counts it among its brokers. */
  async restart(node: ClusterNode): Promise<void> {
    await this.script('restart', String(node));
    await this.waitForBrokers(CLUSTER_NODES.length);
  }

  /** A principal's KAFKA_* settings (deploy/local/kafka.sh's credentials) pointed at the cluster. */
  env(principal: string): Record<string, string> {
    const settings = localKafkaEnv(principal);
    if (!settings) throw new Error(`no credentials for the Kafka principal ${principal}: ${START_HINT}`);
    return { ...settings, KAFKA_BROKERS: this.brokers.join(',') };
  }

  /** The admin principal's connection to the cluster: spread into createKafka's options. */
  get connection(): { brokers: string[]; security: KafkaSecurity } {
    return { brokers: this.brokers, security: kafkaSecurityOf(this.env('admin')) };
  }

  /**
   * One admin client per cluster object. Its errors are not logged: a killed node's refused
   * connections are what the tests cause, and the calls that fail say so themselves.
   */
  get admin(): Kafka {
    this.adminClient ??= createKafka({
      ...this.connection,
      clientId: 'kafka-cluster-test',
      logger: createLogger('kafka-cluster', 'fatal'),
    });
    return this.adminClient;
  }

  /** The leader of each partition of a topic, by partition. */
  async leaders(topic: string): Promise<Map<number, ClusterNode>> {
    const admin = this.admin.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const brokers = new Map((await admin.describeCluster()).brokers.map((b) => [b.nodeId, b]));
      const out = new Map<number, ClusterNode>();
      for (const p of topics[0]?.partitions ?? []) {
        const broker = brokers.get(p.leader);
        if (broker) out.set(p.partitionId, this.nodeOf(broker));
      }
      return out;
    } finally {
      await admin.disconnect();
    }
  }

  /** The node that leads the most partitions of the topic (the lowest id of those tied), and those partitions. */
  async busiestLeader(topic: string): Promise<{ node: ClusterNode; partitions: number[] }> {
    const leaders = await this.leaders(topic);
    const led = (n: ClusterNode) => [...leaders].filter(([, leader]) => leader === n).map(([p]) => p);
    const node = [...CLUSTER_NODES].sort((a, b) => led(b).length - led(a).length || a - b)[0]!;
    return { node, partitions: led(node) };
  }

  /** Waits until every partition of the topics has all its replicas in sync again (after a node came back). */
  async waitForInSync(topics: readonly string[], timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `every replica of ${topics.join(', ')} in sync`,
      async () => {
        const admin = this.admin.admin();
        await admin.connect();
        try {
          const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
          const lagging = meta.topics.flatMap((t) => t.partitions.filter((p) => p.isr.length < p.replicas.length));
          if (lagging.length > 0) throw new Error(`${lagging.length} partitions under-replicated`);
          return true;
        } finally {
          await admin.disconnect();
        }
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  private async waitForBrokers(count: number): Promise<void> {
    await waitFor(
      `${count} brokers in the Kafka cluster on ${this.brokers.join(',')}`,
      async () => {
        const admin = this.admin.admin();
        await admin.connect();
        try {
          const { brokers } = await admin.describeCluster();
          if (brokers.length < count) throw new Error(`${brokers.length} brokers registered`);
          return true;
        } finally {
          await admin.disconnect();
        }
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  }

  private async script(...args: string[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      execFile(
        SCRIPT,
        args,
        { env: { ...process.env, KAFKA_CLUSTER_PORT: String(this.basePort) }, timeout: 240_000 },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`kafka-cluster.sh ${args.join(' ')} failed: ${stderr.trim() || err.message}`)) : resolve(),
      );
    });
  }
}
