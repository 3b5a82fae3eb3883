import { deadLetterMessage, deadLetterTopic } from './dead-letters';

describe('dead letters', () => {
  const raw = {
    offset: 41n,
    key: Buffer.from('wallet-1'),
    value: Buffer.from([0, 0, 0, 0, 7, 1, 2]),
    headers: { id: [Buffer.from('e-1')], type: [Buffer.from('FundsDeposited')] },
    timestamp: new Date(1_750_000_000_000),
  };

  it('given a parked record, then the original key, value and headers travel unchanged with the error and its origin', () => {
    const message = deadLetterMessage(
      {
        raw,
        topic: 'outbox.event.wallet',
        partition: 3,
        projection: 'wallet',
        version: 2,
        code: 'balance_mismatch',
        reason: 'the event says 500',
        attempts: 1,
      },
      'sluice-projector-wallet',
      new Date('2025-06-01T10:00:00.000Z'),
    );
    expect(message.key).toBe(raw.key);
    expect(message.value).toBe(raw.value);
    expect(message.headers).toEqual({
      id: raw.headers.id[0],
      type: raw.headers.type[0],
      'dlq.error.code': 'balance_mismatch',
      'dlq.error.reason': 'the event says 500',
      'dlq.attempts': '1',
      'dlq.original.topic': 'outbox.event.wallet',
      'dlq.original.partition': '3',
      'dlq.original.offset': '41',
      'dlq.original.timestamp': '1750000000000',
      'dlq.consumer.group': 'sluice-projector-wallet',
      'dlq.projection': 'wallet',
      'dlq.projection.version': '2',
      'dlq.failed.at': '2025-06-01T10:00:00.000Z',
    });
  });

  it('names the topic after the consumer group', () => {
    expect(deadLetterTopic('sluice-projector-wallet')).toBe('sluice-projector-wallet.dlq');
  });
});
