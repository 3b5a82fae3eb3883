import avro from 'avsc';
import { WalletOpenedSchema } from './generated';

/** WalletOpened as released before it carried an owner: events written with it stay on the topic. */
const RELEASED_WITHOUT_OWNER = {
  type: 'record',
  name: 'WalletOpened',
  namespace: 'dev.sluice.wallet',
  fields: [
    { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'walletId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'currency', type: 'string' },
    { name: 'version', type: 'int' },
    { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as const;

const event = {
  eventId: '0190a000-0000-7000-8000-000000000001',
  walletId: '0190a000-0000-7000-8000-000000000002',
  currency: 'EUR',
  version: 1,
  occurredAt: 1_700_000_000_000,
};

describe('WalletOpened.owner', () => {
  it('reads an event written before owners existed, with owner null (backward compatible)', () => {
    const current = avro.Type.forSchema(WalletOpenedSchema as unknown as avro.Schema);
    const released = avro.Type.forSchema(RELEASED_WITHOUT_OWNER as unknown as avro.Schema);
    const read = current.fromBuffer(released.toBuffer(event), current.createResolver(released)) as Record<string, unknown>;
    expect(read).toMatchObject({ ...event, owner: null });
  });

  it('carries the owner a new event is written with', () => {
    const current = avro.Type.forSchema(WalletOpenedSchema as unknown as avro.Schema);
    expect(current.fromBuffer(current.toBuffer({ ...event, owner: 'alice' }))).toMatchObject({ owner: 'alice' });
  });
});
