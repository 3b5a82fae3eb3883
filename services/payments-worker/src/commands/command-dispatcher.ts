import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import { fullJitterDelay } from '@sluice/resilience';
import type { CommandEncoder, CommandPayload } from '@sluice/messaging';
import type { Logger } from '@sluice/observability';
import type { PollWait } from '../poll-wait';

/**
 * Sends the worker's outbox of wallet commands to the command topic, keyed
 * by wallet, in the order they were written. The commands of one withdrawal
 * are written by transactions that follow each other (its saga row is
 * locked), so they are visible, and sent, in their order. One dispatcher at a time holds the outbox (an advisory lock taken
 * in its transaction), so replicas never reorder a wallet's commands. Rows
 * are deleted in the transaction that sent them, after Kafka acknowledged
 * them (acks=all); a crash in between sends them again, and the wallet's
 * inbox applies each command id once. Commands are encoded (Avro, the
 * topic's schema) and signed as they leave (the key never reaches the table),
 * with the traceparent of the span that decided them as a header.
 */
export class CommandDispatcher {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly sent: Counter<'type'>;

  constructor(
    private readonly pool: Pool,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly poll: PollWait,
    private readonly logger: Logger,
    registry: Registry,
    private readonly encode: CommandEncoder,
  ) {
    this.sent = new Counter({
      name: 'sluice_payments_commands_sent_total',
      help: 'Wallet commands sent to the command topic, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    const p = pool;
    new Gauge({
      name: 'sluice_payments_commands_pending',
      help: 'Wallet commands written but not yet acknowledged by Kafka',
      registers: [registry],
      async collect() {
        const { rows } = await p
          .query<{ n: string }>('SELECT count(*)::text AS n FROM payment_commands')
          .catch(() => ({ rows: [] }));
        this.set(Number(rows[0]?.n ?? 0));
      },
    });
  }

  start(): void {
    this.loop = this.run();
  }

  poke(): void {
    this.poll.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poll.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const n = await this.dispatchOnce();
        failures = 0;
        if (n > 0) {
          this.poll.worked();
          continue;
        }
      } catch (err) {
        failures++;
        this.logger.warn({ err, failures }, 'sending wallet commands failed; retrying');
        await sleep(fullJitterDelay(failures, 200, 5_000));
        continue;
      }
      await this.poll.idle();
    }
  }

  /** Sends one batch; resolves with how many commands went out. */
  async dispatchOnce(batch = 500): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const { rows: lock } = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_xact_lock(hashtext('sluice.payments.commands')) AS ok",
      );
      if (!lock[0]?.ok) return 0;
      const { rows } = await client.query<{
        seq: string;
        wallet_id: string;
        type: string;
        body: string;
        traceparent: string | null;
      }>('SELECT seq::text, wallet_id, type, body, traceparent FROM payment_commands ORDER BY seq LIMIT $1', [batch]);
      if (rows.length === 0) return 0;
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: rows.map((r) => {
          const { value, headers } = this.encode(JSON.parse(r.body) as CommandPayload);
          // The traceparent is beside the signature, not under it (it covers the value only):
          // it says which trace the command API's handling joins, nothing the command does.
          const trace = r.traceparent === null ? {} : { traceparent: r.traceparent };
          return { key: r.wallet_id, value, headers: { ...headers, ...trace, type: r.type } };
        }),
      });
      // Exactly the rows sent: a row with a lower seq whose transaction committed after the SELECT was not sent.
      await client.query('DELETE FROM payment_commands WHERE seq = ANY($1::int8[])', [rows.map((r) => r.seq)]);
      for (const r of rows) this.sent.inc({ type: r.type });
      return rows.length;
    });
  }
}
