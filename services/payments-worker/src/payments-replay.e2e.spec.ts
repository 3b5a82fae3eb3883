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
 * History replayed into a fresh payments database: withdrawals an earlier
 * store already paid (under its own idempotency keys) are looked up at the
 * provider before anything is sent, so none is paid again.
 */
const logger = createLogger('payments-replay-test', 'warn');
let db: TestDatabase;
let pool: Pool;
let producer: Producer;
let psp: ServiceProcess | undefined;
let worker: ServiceProcess | undefined;
const pattern = `${uniqueName('preplay')}.\${routedByValue}`;
const eventsTopic = routeTopic(pattern, 'wallet');

beforeAll(async () => {
  db = await createTestDatabase('preplay');
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'payments-replay-test', logger });
  await ensureTopics(kafka, [{ topic: eventsTopic, partitions: 2 }]);
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  pool = createPool({ url: db.url, applicationName: 'payments-replay-test', max: 2 });
}, 60_000);

afterAll(async () => {
  await worker?.kill('SIGTERM');
  await psp?.kill('SIGTERM');
  await producer?.disconnect();
  await pool?.end();
  await db?.drop();
});

describe('payments worker replaying history into a fresh store', () => {
  it('an old withdrawal the provider already paid is looked up first and completed, not paid again; an unpaid one is sent', async () => {
    const [pspPort, workerPort] = [await freePort(), await freePort()];
    psp = startService(
      'psp-simulator',
      { PSP_WEBHOOK_URL: `http://127.0.0.1:${workerPort}/v1/psp/webhooks`, PSP_SETTLE_MS: '50' },
      pspPort,
    );
    await psp.waitReady();
    const [paidBefore, unpaid] = [uuidv7(), uuidv7()];
    // The earlier store paid it under a key of its own: sending again under the saga's key would pay twice.
    const earlier = await fetch(`${psp.url}/v1/payouts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `legacy_${paidBefore}` },
      body: JSON.stringify({ reference: paidBefore, amount: 100, currency: 'EUR' }),
    });
    expect(earlier.status).toBe(201);
    await waitFor('the earlier payout to be paid', async () => (await fetchExecutedPayouts(psp!.url)).length === 1);

    const codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    await codec.registerAll();
    const requested = (withdrawalId: string) => {
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
          occurredAt: Date.now() - 3_600_000,
        },
      };
      return { key: walletId, value: codec.encode('wallet', event), headers: { type: 'WithdrawalRequested' } };
    };
    await producer.send({ topic: eventsTopic, acks: -1, messages: [requested(paidBefore), requested(unpaid)] });

    worker = startService(
      'payments-worker',
      {
        DATABASE_URL: db.url,
        SCHEMA_REGISTRY_URL: testEnv.registryUrl,
        OUTBOX_TOPIC_PATTERN: pattern,
        PAYMENTS_GROUP_ID: uniqueName('preplay_payments'),
        WALLET_COMMANDS_TOPIC: uniqueName('preplay_commands'),
        PAYMENTS_FROM_BEGINNING: 'true',
        PSP_URL: `http://127.0.0.1:${pspPort}`,
        LOG_LEVEL: 'info',
      },
      workerPort,
    );
    await worker.waitReady(60_000);
    await waitFor(
      'both sagas to complete',
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM payment_sagas WHERE state = 'completed'",
        );
        return Number(rows[0]?.n) === 2;
      },
      { timeoutMs: 30_000 },
    );
    const { rows } = await pool.query<{ withdrawal_id: string; look_up_first: boolean }>(
      'SELECT withdrawal_id, look_up_first FROM payment_sagas ORDER BY withdrawal_id',
    );
    expect(rows.every((r) => r.look_up_first)).toBe(true);
    const payouts = await fetchExecutedPayouts(psp.url);
    expect(payouts.filter((p) => p.reference === paidBefore)).toHaveLength(1);
    expect(payouts.filter((p) => p.reference === unpaid)).toHaveLength(1);
  }, 120_000);
});
