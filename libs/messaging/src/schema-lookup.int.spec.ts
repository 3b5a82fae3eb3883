import { walletCatalog } from '@sluice/schemas';
import { testEnv, uniqueName } from '@sluice/testing';
import { AvroEventCodec, CodecError } from './avro-codec';

describe('writers that only look schemas up (SCHEMA_AUTO_REGISTER=false)', () => {
  const pattern = `${uniqueName('lookup')}.\${routedByValue}`;

  it('fail with schema_not_found, naming the release step, while the schemas are not registered', async () => {
    const err = await AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern)
      .lookupAll()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodecError);
    expect(err).toMatchObject({ code: 'schema_not_found', retriable: false });
    expect((err as Error).message).toMatch(/sluice schemas register/);
  });

  it('find the ids the release step registered, and encode with them', async () => {
    const registered = await AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern).registerAll();
    const writer = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    expect(await writer.lookupAll()).toEqual(registered);
    const [type] = Object.keys(walletCatalog.schemas);
    expect(writer.schemaIdOf(walletCatalog.aggregateType, type!)).toBe(registered.values().next().value);
  });
});
