import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { AvroEventCodec } from '@sluice/messaging';
import { listVersions, withUpcasters } from '@sluice/projection-kit';
import { findWallet, walletProjection } from '@sluice/projection-wallet';
import { walletSchemas, type RecordSchema, type WalletEvent } from '@sluice/schemas';
import { repoRoot, testEnv } from '@sluice/testing';
import { FUNDS_ADDED_SCHEMA, fundsAddedUpcaster, type FundsAdded } from '../test-support/legacy-deposits';
import { deposited, opened, T0 } from '../test-support/events';
import { ProjectorHarness } from '../test-support/harness';
import { toolsConfig } from './config';
import { openToolContext, type ToolContext } from './context';
import { ProgressPrinter } from './progress-bar';
import { rebuild } from './rebuild';

/**
 * A projection rebuilt from offset 0 of a topic whose events were written with
 * several schema versions, against the real registry, Kafka and PostgreSQL:
 * WalletOpened as released v1 (no owner) beside v2 (owner), and (a breaking
 * change done as a new event type) deposits written as FundsAdded, folded
 * through an upcaster.
 */
let h: ProjectorHarness;
let tools: ToolContext;
/** A writer as released before owners existed, which also still wrote FundsAdded. */
let oldWriter: AvroEventCodec;
let produced = 0;
const printer = new ProgressPrinter({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream, 0);

const releasedV1 = JSON.parse(
  readFileSync(join(repoRoot(), 'schemas/released/wallet/WalletOpened/v1.avsc'), 'utf8'),
) as RecordSchema;

beforeAll(async () => {
  h = await ProjectorHarness.create('evolve', { partitions: 3, projections: [walletProjection] });
  tools = await openToolContext(
    loadConfig(toolsConfig, {
      SLUICE_ENV: 'development',
      DATABASE_URL: h.db.url,
      ...testEnv.kafkaEnv,
      SCHEMA_REGISTRY_URL: testEnv.registryUrl,
      OUTBOX_TOPIC_PATTERN: h.pattern,
      PROJECTOR_GROUP_ID: h.group('live'),
      LOG_LEVEL: 'silent',
      REBUILD_PROGRESS_INTERVAL_MS: '200',
      REBUILD_FETCH_MAX_WAIT_MS: '50',
    }),
    () => undefined,
  );
  oldWriter = AvroEventCodec.connect(
    testEnv.registryUrl,
    [
      {
        aggregateType: 'wallet',
        schemas: { WalletOpened: releasedV1, FundsDeposited: walletSchemas.FundsDeposited, FundsAdded: FUNDS_ADDED_SCHEMA },
      },
    ],
    h.pattern,
  );
  await oldWriter.registerAll();
});

afterAll(async () => {
  await tools?.close();
  await h?.close();
});

/** Writes each event with `codec` (the current build's, or the old writer). */
async function produce(codec: AvroEventCodec, events: { type: string; data: { walletId: string; eventId: string } }[]) {
  for (const e of events) {
    await h.produceRaw(e.data.walletId, codec.encode('wallet', e), { id: e.data.eventId, type: e.type });
    produced++;
  }
}

function openedV1(walletId: string): WalletEvent {
  const e = opened(walletId);
  const { owner: _owner, ...v1 } = e.data as { owner?: string | null };
  return { ...e, data: v1 } as WalletEvent;
}

function fundsAdded(walletId: string, version: number, amount: string, balance: string) {
  const data: FundsAdded = { eventId: uuidv7(), walletId, amount, currency: 'EUR', balance, version, occurredAt: T0 + version };
  return { type: 'FundsAdded', data };
}

describe('a projection rebuilt across schema versions', () => {
  const [w1, w2, w3, w4] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];

  it('reads events written with WalletOpened v1 with the new field at its default, and v2 events with theirs', async () => {
    await produce(oldWriter, [openedV1(w1), deposited(w1, 2, 100, 100), openedV1(w3)]);
    const withOwner = opened(w2);
    await produce(h.codec, [
      { ...withOwner, data: { ...withOwner.data, owner: 'alice' } } as WalletEvent,
      deposited(w2, 2, 40, 40),
      deposited(w3, 2, 25, 25),
    ]);
    await produce(oldWriter, [deposited(w3, 3, 5, 30)]);

    const result = await rebuild(tools, walletProjection, { snapshot: false, printer });

    expect(oldWriter.schemaIdOf('wallet', 'WalletOpened')).not.toBe(h.codec.schemaIdOf('wallet', 'WalletOpened'));
    expect(result).toMatchObject({ status: 'switched', version: 2, events: produced });
    expect((await listVersions(h.pool, 'wallet')).find((v) => v.version === 2)).toMatchObject({
      state: 'live',
      origin: 'earliest',
    });
    expect(await findWallet(h.pool, w1)).toMatchObject({ owner: null, balance: 100, held: 0, version: 2 });
    expect(await findWallet(h.pool, w2)).toMatchObject({ owner: 'alice', balance: 40, version: 2 });
    expect(await findWallet(h.pool, w3)).toMatchObject({ owner: null, balance: 30, version: 3 });
  });

  it('folds deposits of the superseded FundsAdded type through its upcaster, beside current deposits', async () => {
    await produce(h.codec, [opened(w4)]);
    await produce(oldWriter, [fundsAdded(w4, 2, '12.50', '12.50'), fundsAdded(w4, 3, '0.05', '12.55')]);
    await produce(h.codec, [deposited(w4, 4, 1_000, 2_255)]);
    // This build's reader knows the old record; the projection upcasts it where it reads it.
    const reader = AvroEventCodec.connect(
      testEnv.registryUrl,
      [{ aggregateType: 'wallet', schemas: { ...walletSchemas, FundsAdded: FUNDS_ADDED_SCHEMA } }],
      h.pattern,
    );

    const result = await rebuild({ ...tools, codec: reader }, withUpcasters(walletProjection, [fundsAddedUpcaster]), {
      snapshot: false,
      printer,
    });

    expect(result).toMatchObject({ status: 'switched', version: 3, from: 2, events: produced });
    expect(await findWallet(h.pool, w4)).toMatchObject({ balance: 2_255, version: 4 });
    // Every wallet of the earlier versions reads as before.
    expect(await findWallet(h.pool, w1)).toMatchObject({ owner: null, balance: 100, version: 2 });
    expect(await findWallet(h.pool, w2)).toMatchObject({ owner: 'alice', balance: 40, version: 2 });
    expect(await findWallet(h.pool, w3)).toMatchObject({ owner: null, balance: 30, version: 3 });
    const { rows } = await h.pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM projection_parked WHERE projection = 'wallet' AND version = 3",
    );
    expect(rows[0]!.n).toBe('0');
  });
});
