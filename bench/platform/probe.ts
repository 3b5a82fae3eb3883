import { AssignerProtocol, Kafka, logLevel, type Consumer, type PartitionAssigner } from 'kafkajs';
import type { Pool } from 'pg';
import { kafkajsSecurity, partitionForKey, PLAINTEXT, type KafkaSecurity } from '@sluice/messaging';
import type { LoadTarget } from '../loadgen';

/** Where a followed deposit was when: epoch ms at each hop. */
export interface HopTimes {
  /** The outbox row's time (the command transaction's now()), carried as the Kafka record's timestamp. */
  commit: number;
  /** When the bench's consumer got the record from the broker. */
  kafka: number;
  /** The projector's transaction that applied it (wallet_transactions.projected_at). */
  applied: number;
  /** When the query API first answered with the deposit's version (a ?minVersion= read sent at the 201). */
  visible: number;
}

/** A consumer group of one member that takes only the partitions given, so following a sample costs the broker little. */
function subsetAssigner(topic: string, partitions: readonly number[]): PartitionAssigner {
  return () => ({
    name: 'SluiceBenchSubset',
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? { [topic]: [...partitions] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'SluiceBenchSubset',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}

/**
 * Follows the deposits of the wallets whose events land on the first
 * `samplePartitions` partitions of the event topic, hop by hop: the Kafka
 * record's timestamp (commit) and arrival, the projector's apply time in the
 * read model, and the query API's answer to a read-your-writes read.
 */
export class HopProbe {
  private consumer: Consumer | undefined;
  /** Event id → [record timestamp, received at], for the current step. */
  private records = new Map<string, [number, number]>();
  /** "<wallet>:<version>" → visible at (NaN: not visible within the probe's patience). */
  private visible = new Map<string, number>();
  private pending = 0;

  constructor(
    private readonly options: {
      brokers: string[];
      security?: KafkaSecurity;
      topic: string;
      partitions: number;
      samplePartitions: number;
      groupId: string;
      query: LoadTarget;
      /** The Authorization header the query API's reads carry. */
      auth: Record<string, string>;
    },
  ) {}

  followed(walletId: string): boolean {
    return partitionForKey(walletId, this.options.partitions) < this.options.samplePartitions;
  }

  async start(): Promise<void> {
    const { brokers, security = PLAINTEXT, topic, samplePartitions, groupId } = this.options;
    const kafka = new Kafka({
      clientId: 'sluice-bench-probe',
      brokers,
      logLevel: logLevel.NOTHING,
      ...kafkajsSecurity(security),
    });
    const partitions = Array.from({ length: samplePartitions }, (_, i) => i);
    const consumer = kafka.consumer({ groupId, partitionAssigners: [subsetAssigner(topic, partitions)], maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    const joined = new Promise<void>((res) => consumer.on(consumer.events.GROUP_JOIN, () => res()));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const at = Date.now();
        for (const m of batch.messages) {
          const id = m.headers?.id;
          if (id) this.records.set(id.toString(), [Number(m.timestamp), at]);
        }
      },
    });
    await joined;
  }

  /** Called with each 201 of a followed wallet: asks the query API for that version, waiting for it. */
  watch(walletId: string, version: number): void {
    const key = `${walletId}:${version}`;
    this.pending++;
    const ask = async (attempt: number): Promise<void> => {
      const res = await this.options.query.send({
        method: 'GET',
        path: `/v1/wallets/${walletId}?minVersion=${version}`,
        headers: this.options.auth,
      });
      const seen = Number(/"version":(\d+)/.exec(res.body)?.[1] ?? 0);
      if (res.status === 200 && seen >= version) this.visible.set(key, Date.now());
      else if (attempt < 5) return ask(attempt + 1);
      else this.visible.set(key, NaN);
    };
    void ask(1).finally(() => this.pending--);
  }

  /** Resolves once every watched read has answered, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * The followed deposits of the step (joined through the read model's event
   * ids), and how many watched deposits never showed; clears the step's records.
   */
  async collect(pool: Pool): Promise<{ hops: HopTimes[]; invisible: number; watched: number }> {
    const records = this.records;
    const visible = this.visible;
    this.records = new Map();
    this.visible = new Map();
    const ids = [...records.keys()];
    const hops: HopTimes[] = [];
    for (let i = 0; i < ids.length; i += 5_000) {
      const { rows } = await pool.query<{ event_id: string; wallet_id: string; version: number; applied_ms: string }>(
        `SELECT event_id::text, wallet_id::text, version, (extract(epoch FROM projected_at) * 1000)::float8::text AS applied_ms
           FROM wallet_transactions WHERE event_id = ANY($1::uuid[]) AND type = 'deposit'`,
        [ids.slice(i, i + 5_000)],
      );
      for (const r of rows) {
        const seen = visible.get(`${r.wallet_id}:${r.version}`);
        const rec = records.get(r.event_id);
        if (seen === undefined || Number.isNaN(seen) || !rec) continue;
        hops.push({ commit: rec[0], kafka: rec[1], applied: Number(r.applied_ms), visible: seen });
      }
    }
    const invisible = [...visible.values()].filter(Number.isNaN).length;
    return { hops, invisible, watched: visible.size };
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
