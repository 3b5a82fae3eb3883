import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProblems, walletCatalog, walletSchemas, type EventCatalog, type RecordSchema } from '@sluice/schemas';
import { repoRoot, testEnv, uniqueName } from '@sluice/testing';
import { AvroEventCodec } from './avro-codec';
import { registryEndpoint, registryHeaders } from './registry-endpoint';

/**
 * Schema evolution against the real registry (Apicurio, global rule BACKWARD_TRANSITIVE): events
 * written with a released version are read by consumers built with the current one, and the local
 * gate (schemas/src/compatibility.ts, run by make check) judges changes as the registry does.
 */
const released = (name: string, version: number) =>
  JSON.parse(readFileSync(join(repoRoot(), `schemas/released/wallet/${name}/v${version}.avsc`), 'utf8')) as RecordSchema;

const opened = {
  eventId: '0190a000-0000-7000-8000-000000000001',
  walletId: '0190a000-0000-7000-8000-000000000002',
  currency: 'EUR',
  version: 1,
  occurredAt: 1_700_000_000_000,
};

describe('events written with a released schema version', () => {
  it('are read by a consumer built with the current version: WalletOpened v1 (no owner) reads with owner null', async () => {
    const pattern = `${uniqueName('evolution')}.\${routedByValue}`;
    // A writer as released before owners existed: its catalog holds WalletOpened v1.
    const v1Catalog: EventCatalog = {
      aggregateType: 'wallet',
      schemas: { ...walletSchemas, WalletOpened: released('WalletOpened', 1) },
    };
    const oldWriter = AvroEventCodec.connect(testEnv.registryUrl, [v1Catalog], pattern);
    await oldWriter.registerAll();
    const written = oldWriter.encode('wallet', { type: 'WalletOpened', data: opened });

    // The current build registers v2 under the same subject (the registry accepts it: compatible) and reads both.
    const current = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    await current.registerAll();
    expect(current.schemaIdOf('wallet', 'WalletOpened')).not.toBe(oldWriter.schemaIdOf('wallet', 'WalletOpened'));
    expect(await current.decode(written)).toMatchObject({ type: 'WalletOpened', data: { ...opened, owner: null } });
    const fresh = current.encode('wallet', { type: 'WalletOpened', data: { ...opened, owner: 'alice' } });
    expect(await current.decode(fresh)).toMatchObject({ data: { owner: 'alice' } });
  });
});

describe('the local schema gate', () => {
  const endpoint = registryEndpoint(testEnv.registryUrl);
  const headers = { 'content-type': 'application/vnd.schemaregistry.v1+json', ...registryHeaders(endpoint) };
  const base = { type: 'record', name: 'Probe', namespace: 'dev.sluice.test', fields: [{ name: 'amount', type: 'long' }] };

  /** The registry's own verdict on `next` against what `subject` holds. */
  async function registryAccepts(subject: string, next: object): Promise<boolean> {
    const res = await fetch(`${endpoint.url}/compatibility/subjects/${subject}/versions/latest`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ schema: JSON.stringify(next) }),
    });
    if (!res.ok) throw new Error(`compatibility check: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { is_compatible: boolean }).is_compatible;
  }

  it.each<[string, boolean, object[]]>([
    [
      'a field added with a default',
      true,
      [
        { name: 'amount', type: 'long' },
        { name: 'note', type: ['null', 'string'], default: null },
      ],
    ],
    [
      'a field added without a default',
      false,
      [
        { name: 'amount', type: 'long' },
        { name: 'note', type: 'string' },
      ],
    ],
    ['a long narrowed to int', false, [{ name: 'amount', type: 'int' }]],
    ['a long widened to double', true, [{ name: 'amount', type: 'double' }]],
    ['a field removed', true, [{ name: 'note', type: ['null', 'string'], default: null }]],
  ])('agrees with the registry on %s (compatible: %s)', async (_change, compatible, fields) => {
    const subject = uniqueName('gate');
    const res = await fetch(`${endpoint.url}/subjects/${subject}/versions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ schema: JSON.stringify(base) }),
    });
    expect(res.ok).toBe(true);
    const next = { ...base, fields };
    expect(await registryAccepts(subject, next)).toBe(compatible);
    expect(readProblems(next, base).length === 0).toBe(compatible);
  });
});
