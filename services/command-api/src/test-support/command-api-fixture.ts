import type { FastifyInstance } from 'fastify';
import { Client } from 'pg';
import { loadConfig } from '@sluice/config';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { createTestDatabase, testEnv, testIssuer, uniqueName, type TestDatabase } from '@sluice/testing';
import { buildCommandApi, type CommandApi } from '../app';
import { commandApiConfig, type CommandApiConfig } from '../config';

/** The settings every in-process command API of the tests shares: a throwaway database, unique names. */
export function testCommandApiEnv(db: TestDatabase, label: string): Record<string, string> {
  return {
    SLUICE_ENV: 'development',
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: `${uniqueName(label)}.\${routedByValue}`,
    OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
    LOG_LEVEL: 'warn',
    // The test shares the service's event loop: its own bursts must not read as saturation.
    EVENT_LOOP_MAX_DELAY_MS: '0',
    WALLET_COMMANDS_ENABLED: 'false',
    ...testIssuer().env(),
  };
}

/** Builds the command API from `env` and readies its HTTP side for inject(). */
export async function startCommandApi(
  env: Record<string, string>,
  label: string,
  registry: Registry = createMetricsRegistry('t', false),
): Promise<{ api: CommandApi; http: FastifyInstance; config: CommandApiConfig }> {
  const config = loadConfig(commandApiConfig, env);
  const api = await buildCommandApi(config, createLogger(label, 'warn'), registry);
  await api.app.init();
  const http = api.app.getHttpAdapter().getInstance();
  await http.ready();
  return { api, http, config };
}

export interface TestCommandApi {
  db: TestDatabase;
  api: CommandApi;
  http: FastifyInstance;
  config: CommandApiConfig;
  registry: Registry;
  close(): Promise<void>;
}

/** A command API in this process on its own throwaway database, with `env` over the shared settings. */
export async function startTestCommandApi(label: string, env: Record<string, string> = {}): Promise<TestCommandApi> {
  const db = await createTestDatabase(label);
  const registry = createMetricsRegistry('t', false);
  const started = await startCommandApi({ ...testCommandApiEnv(db, label), ...env }, `${label}-test`, registry);
  return {
    db,
    registry,
    ...started,
    async close() {
      await started.api.close();
      await db.drop();
    },
  };
}

/**
 * A test_decoding slot on the test database: every row change the requests
 * make, outbox inserts included (in WAL mode the outbox row is deleted in the
 * same transaction, so the table itself stays empty).
 */
export class WalChanges {
  private constructor(
    private readonly client: Client,
    private readonly slot: string,
  ) {}

  static async open(url: string, slot: string): Promise<WalChanges> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot]);
    return new WalChanges(client, slot);
  }

  /** Transactions written since the last call, each as its row changes ("table public.x: INSERT: ..."). */
  async transactions(): Promise<string[][]> {
    const { rows } = await this.client.query<{ data: string }>('SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)', [
      this.slot,
    ]);
    const transactions: string[][] = [];
    for (const { data } of rows) {
      if (data.startsWith('BEGIN')) transactions.push([]);
      else if (data.startsWith('table ')) transactions.at(-1)?.push(data);
    }
    return transactions.filter((t) => t.length > 0);
  }

  /** Row changes written since the last call, of every transaction. */
  async changes(): Promise<string[]> {
    return (await this.transactions()).flat();
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
