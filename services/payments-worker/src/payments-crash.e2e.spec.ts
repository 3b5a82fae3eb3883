import type { Producer } from 'kafkajs';
import { uuidv7 } from '@sluice/core';
import { createPool, type Pool } from '@sluice/db';
import { fetchExecutedPayouts } from '@sluice/invariants';
import { AvroEventCodec, createIdempotentProducer, createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import {
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/**
 * kill -9 of the payments worker while payouts are in flight and the
 * stream of WithdrawalRequested events is only half consumed: after its
 * restart every withdrawal has its saga and is paid out once (the provider
 * executes each payout once).
 *
 * The cut is made certain, not left to timing: the provider answers slowly
 * (PSP_LATENCY_MS), so the kill lands while most payouts of the first half
 * are still unsent or unanswered, and the second half is produced while the
 * worker is down.
 */
const WITHDRAWALS = 200;
const FIRST_HALF = WITHDRAWALS / 2;
const PSP_LATENCY_MS = 200;
const logger = createLogger('payments-crash-test', 'warn');
let db: TestDatabase;
let pool: Pool;
let producer: Producer;
let psp: ServiceProcess | undefined;
let worker: ServiceProcess | undefined;
const pattern = `${uniqueName('pcrash')}.\${routedByValue}`;
const eventsTopic = routeTopic(pattern, 'wallet');

beforeAll(async () => {
  db = await createTestDatabase('pcrash');
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'payments-crash-test', logger });
  await ensureTopics(kafka, [{ topic: eventsTopic, partitions: 4 }]);
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  pool = createPool({ url: db.url, applicationName: 'payments-crash-test', max: 2 });
}, 60_000);

afterAll(async () => {
  await worker?.kill('SIGTERM');
  await psp?.kill('SIGTERM');
  await producer?.disconnect();
  await pool?.end();
  await db?.drop();
});

/** Sagas, all or those matching a condition on their state. */
async function sagas(where = 'true'): Promise<number> {
  const { rows } = await pool
    .query<{ n: string }>(`SELECT count(*)::text AS n FROM payment_sagas WHERE ${where}`)
    .catch(() => ({ rows: [] }));
  return Number(rows[0]?.n ?? 0);
}

describe('payments worker killed mid-batch', () => {
  it('kill -9 while consuming withdrawals: after the restart each one is paid out exactly once', async () => {
    const [pspPort, workerPort] = [await freePort(), await freePort()];
    psp = startService(
      'psp-simulator',
      {
        PSP_WEBHOOK_URL: `http://127.0.0.1:${workerPort}/v1/psp/webhooks`,
        PSP_SETTLE_MS: '50',
        PSP_LATENCY_MS: String(PSP_LATENCY_MS),
      },
      pspPort,
    );
    await psp.waitReady();
    const codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    await codec.registerAll();
    const ids = Array.from({ length: WITHDRAWALS }, () => uuidv7());
    const produce = (withdrawalIds: string[]) =>
      producer.send({
        topic: eventsTopic,
        acks: -1,
        messages: withdrawalIds.map((withdrawalId) => {
          const walletId = uuidv7();
          const event: WalletEvent = {
            type: 'WithdrawalRequested',
            data: {
              eventId: uuidv7(),
              walletId,
              withdrawalId,
              amount: 100,
              currency: 'EUR',
              balance: 1_000,
              held: 100,
              version: 3,
              occurredAt: Date.now(),
            },
          };
          return { key: walletId, value: codec.encode('wallet', event), headers: { type: 'WithdrawalRequested' } };
        }),
      });
    await produce(ids.slice(0, FIRST_HALF));
    worker = startService(
      'payments-worker',
      {
        DATABASE_URL: db.url,
        ...testEnv.kafkaEnv,
        SCHEMA_REGISTRY_URL: testEnv.registryUrl,
        OUTBOX_TOPIC_PATTERN: pattern,
        PAYMENTS_GROUP_ID: uniqueName('pcrash_payments'),
        // The withdrawals are on the topic before the worker starts: it replays them (looking each up first).
        PAYMENTS_FROM_BEGINNING: 'true',
        WALLET_COMMANDS_TOPIC: uniqueName('pcrash_commands'),
        PSP_URL: `http://127.0.0.1:${pspPort}`,
        PSP_TIMEOUT_MS: '1000',
        PSP_CONCURRENCY: '16',
        PSP_RETRY_MAX_MS: '300',
        PAYOUT_LEASE_MS: '8000',
        PAYOUT_ANSWER_DEADLINE_MS: '3000',
        // One partition at a time and short fetch waits: the stream is consumed in several batches.
        KAFKA_PARTITIONS_CONCURRENTLY: '1',
        KAFKA_FETCH_MAX_WAIT_MS: '100',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_HEARTBEAT_INTERVAL_MS: '500',
        LOG_LEVEL: 'info',
      },
      workerPort,
    );
    await worker.waitReady();
    await waitFor('the first payouts sent', async () => (await sagas("state <> 'requested'")) > 0, {
      timeoutMs: 20_000,
      intervalMs: 5,
    });
    await worker.kill('SIGKILL');
    const unfinishedAtKill = await sagas("state IN ('requested', 'submitted')");
    await produce(ids.slice(FIRST_HALF));
    await worker.restart();
    await waitFor('every saga', async () => (await sagas()) === WITHDRAWALS, { timeoutMs: 30_000 });
    await waitFor(
      'every payout',
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM payment_sagas WHERE state IN ('completed', 'failed')",
        );
        return Number(rows[0]?.n) === WITHDRAWALS;
      },
      { timeoutMs: 40_000 },
    );
    const payouts = (await fetchExecutedPayouts(psp.url)).filter((p) => ids.includes(p.reference));
    expect(payouts).toHaveLength(WITHDRAWALS);
    expect(new Set(payouts.map((p) => p.reference)).size).toBe(WITHDRAWALS);
    // 16 payouts at a time, each answered after PSP_LATENCY_MS: the kill came while most of the first half was unfinished.
    expect(unfinishedAtKill).toBeGreaterThan(0);
  }, 120_000);
});
