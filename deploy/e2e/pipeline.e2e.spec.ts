import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { Client } from 'pg';
import {
  AvroEventCodec,
  createKafka,
  ensureTopics,
  partitionForKey,
  registryEndpoint,
  registryHeaders,
  routeTopic,
  unframe,
} from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletCatalog, type FundsDeposited } from '@sluice/schemas';
import {
  consumeRecords,
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  testIssuer,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/**
 * The whole path through separately running services, as `make up` runs them:
 * HTTP command → PostgreSQL (state + outbox) → WAL → relay → Kafka →
 * projector → read model → query API.
 */
const logger = createLogger('e2e', 'warn');
let db: TestDatabase;
let kafka: Kafka;
let admin: Admin;
let topic: string;
let codec: AvroEventCodec;
const services: Record<string, ServiceProcess> = {};
/** The customer who opens the wallets here, with every scope (the deposits are a funding service's). */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('e2e-user');
  db = await createTestDatabase('e2e');
  const pattern = `${uniqueName('e2e')}.\${routedByValue}`;
  topic = routeTopic(pattern, 'wallet');
  kafka = createKafka({ ...testEnv.kafka, clientId: 'e2e', logger });
  await ensureTopics(kafka, [{ topic, partitions: 12, retainForever: true }]);
  admin = kafka.admin();
  await admin.connect();
  codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  const env = {
    ...testIssuer().env(),
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: pattern,
    OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
    OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
    PROJECTOR_GROUP_ID: uniqueName('projector'),
    WALLET_COMMANDS_TOPIC: uniqueName('e2e_wallet_commands'),
    WALLET_COMMANDS_DLQ_TOPIC: uniqueName('e2e_wallet_commands_dlq'),
    WALLET_COMMANDS_GROUP_ID: uniqueName('e2e_command_api'),
    LOG_LEVEL: 'info',
    RELAY_RECONNECT_MAX_MS: '500',
    // The test counts every deposit; on a busy test machine the event-loop guard would refuse some.
    EVENT_LOOP_MAX_DELAY_MS: '0',
  };
  // The command API first: it migrates and creates the slot before any write.
  services.command = startService('command-api', env, await freePort());
  await services.command.waitReady();
  services.relay = startService('outbox-relay', env, await freePort());
  services.projector = startService('projector', env, await freePort());
  services.query = startService('query-api', env, await freePort());
  await Promise.all([services.relay.waitReady(), services.projector.waitReady(), services.query.waitReady()]);
});

afterAll(async () => {
  await Promise.all(Object.values(services).map((s) => s.kill('SIGTERM')));
  await admin?.disconnect();
  await db?.drop();
});

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${services.command!.url}${path}`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function openWallet(): Promise<string> {
  const res = await post('/v1/wallets', { currency: 'EUR' }, { 'idempotency-key': uniqueName('open') });
  expect(res.status).toBe(201);
  return String(res.body.walletId);
}

async function deposit(walletId: string, amount: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return post(`/v1/wallets/${walletId}/deposits`, { amount, currency: 'EUR' }, { 'idempotency-key': uniqueName('dep') });
}

async function readBalance(walletId: string, version: number): Promise<Record<string, unknown>> {
  return waitFor(
    `wallet ${walletId} at version ${version} in the query API`,
    async () => {
      const res = await fetch(`${services.query!.url}/v1/wallets/${walletId}`, { headers: AUTH });
      if (res.status !== 200) return undefined;
      const view = (await res.json()) as Record<string, unknown>;
      return view.version === version ? view : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

describe('end to end: HTTP command → outbox → WAL relay → Kafka → projector → query API', () => {
  it('a deposit reaches the read model, and its Kafka record is keyed, partitioned, framed and registered as the contract says', async () => {
    const walletId = await openWallet();
    const res = await deposit(walletId, 1250);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ walletId, balance: 1250, version: 2 });

    const view = await readBalance(walletId, 2);
    expect(view).toMatchObject({ walletId, currency: 'EUR', balance: 1250, version: 2 });
    expect(new Date(String(view.updatedAt)).toString()).not.toBe('Invalid Date');

    const records = (await consumeRecords(kafka, topic, 2)).filter((r) => r.message.key?.toString() === walletId);
    const record = records.find((r) => r.message.headers?.type?.toString() === 'FundsDeposited');
    expect(record).toBeDefined();
    const { message, partition } = record!;
    expect(partition).toBe(partitionForKey(walletId, 12));
    expect(message.headers!.id!.toString()).toMatch(/^[0-9a-f-]{36}$/);
    const { schemaId } = unframe(message.value!);
    expect(message.value![0]).toBe(0);
    // The schema id in the frame resolves in the registry to the FundsDeposited record…
    const registry = registryEndpoint(testEnv.registryUrl);
    const registered = await fetch(`${registry.url}/schemas/ids/${schemaId}`, { headers: registryHeaders(registry) });
    expect(registered.status).toBe(200);
    const { schema } = (await registered.json()) as { schema: string };
    expect(JSON.parse(schema)).toMatchObject({ name: 'FundsDeposited', namespace: 'dev.sluice.wallet' });
    // …and decodes to the deposit the API accepted.
    const decoded = await codec.decode(message.value!);
    expect(decoded.type).toBe('FundsDeposited');
    const data = decoded.data as FundsDeposited;
    expect(data).toMatchObject({
      walletId,
      depositId: res.body.depositId,
      amount: 1250,
      balance: 1250,
      version: 2,
      currency: 'EUR',
    });
    expect(data.eventId).toBe(message.headers!.id!.toString());
  });

  it('kill -9 of the relay while deposits flow loses nothing: every deposit reaches Kafka and the balance is exact', async () => {
    const walletIds = [await openWallet(), await openWallet(), await openWallet()];
    const accepted: string[] = [];
    let expected = 0;
    let flowing = true;
    const load = (async () => {
      for (let i = 0; flowing; i++) {
        const walletId = walletIds[i % walletIds.length]!;
        const res = await deposit(walletId, 1 + (i % 7));
        if (res.status === 201) {
          accepted.push(String(res.body.depositId));
          expected += 1 + (i % 7);
        }
        await sleep(5);
      }
    })();
    for (let crash = 0; crash < 3; crash++) {
      await sleep(400 + Math.random() * 400);
      await services.relay!.kill('SIGKILL');
      await sleep(300);
      await services.relay!.restart();
    }
    await sleep(500);
    flowing = false;
    await load;
    expect(accepted.length).toBeGreaterThan(20);

    // Every accepted deposit is in Kafka (a crash may repeat some: at least once).
    const deposits = new Set<string>();
    await waitFor(
      'every accepted deposit in Kafka',
      async () => {
        const records = await consumeRecords(kafka, topic, await recordCount(), 20_000);
        deposits.clear();
        for (const r of records) {
          if (r.message.headers?.type?.toString() !== 'FundsDeposited') continue;
          deposits.add(((await codec.decode(r.message.value!)).data as FundsDeposited).depositId);
        }
        return accepted.every((id) => deposits.has(id));
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );

    // The read model folded each deposit exactly once.
    let total = 0;
    for (const walletId of walletIds) {
      const state = await commandSideState(walletId);
      const view = await readBalance(walletId, state.version);
      expect(view.balance).toBe(state.balance);
      total += Number(view.balance);
    }
    expect(total).toBe(expected);
  });

  // Last: the deposit test reads the topic's first records, which must be its own wallet's.
  it('the owner travels with WalletOpened into the read model: the opener reads the wallet, another subject gets 404', async () => {
    const walletId = await openWallet();
    const view = await readBalance(walletId, 1);
    expect(view).toMatchObject({ walletId, balance: 0 });
    const other = await fetch(`${services.query!.url}/v1/wallets/${walletId}`, {
      headers: await testIssuer().bearer('someone-else', 'wallets:read'),
    });
    expect(other.status).toBe(404);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ owner: string }>('SELECT owner FROM public.wallet_balances WHERE wallet_id = $1', [
        walletId,
      ]);
      expect(rows[0]?.owner).toBe('e2e-user');
    } finally {
      await client.end();
    }
  });
});

async function recordCount(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

/** The command side's own view of the wallet: what the read model must converge to. */
async function commandSideState(walletId: string): Promise<{ balance: number; version: number }> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ balance: string; version: number }>(
      'SELECT balance::text, version FROM wallets WHERE id = $1',
      [walletId],
    );
    return { balance: Number(rows[0]!.balance), version: rows[0]!.version };
  } finally {
    await client.end();
  }
}
