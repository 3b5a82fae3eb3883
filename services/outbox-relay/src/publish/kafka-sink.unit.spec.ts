import type { Producer } from 'kafkajs';
import { KafkajsSink } from './kafka-sink';
import type { OutboxRecord } from './outbox-record';

/** A kafkajs producer double: connects, and fails sendBatch while `failing` is set. */
function fakeProducers() {
  const made: { id: number; sent: number; disconnected: boolean }[] = [];
  let failing = false;
  const create = (): Producer => {
    const state = { id: made.length + 1, sent: 0, disconnected: false };
    made.push(state);
    return {
      connect: async () => undefined,
      disconnect: async () => void (state.disconnected = true),
      sendBatch: async () => {
        if (failing) throw new Error('The broker received an out of order sequence number');
        state.sent++;
        return [];
      },
    } as unknown as Producer;
  };
  return { made, create, fail: (on: boolean) => void (failing = on) };
}

const record = { id: 'e1', aggregateId: 'k', type: 'T', payload: Buffer.from('x'), headers: {} } as unknown as OutboxRecord;

describe('KafkajsSink', () => {
  it('replaces its producer (a new producer id) after a failed send, and sends the retry with the new one', async () => {
    const producers = fakeProducers();
    let replaced = 0;
    const sink = new KafkajsSink(producers.create, () => replaced++);
    await sink.send([record], ['t'], [0]);
    producers.fail(true);
    await expect(sink.send([record], ['t'], [0])).rejects.toThrow(/out of order/);
    producers.fail(false);
    await sink.send([record], ['t'], [0]);

    expect(replaced).toBe(1);
    expect(producers.made.map((p) => [p.id, p.sent])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    await new Promise((r) => setImmediate(r));
    expect(producers.made[0]!.disconnected).toBe(true);
    await sink.close();
    expect(producers.made[1]!.disconnected).toBe(true);
  });

  it('replaces the producer once when several sends of one batch window fail together', async () => {
    const producers = fakeProducers();
    const sink = new KafkajsSink(producers.create);
    producers.fail(true);
    const results = await Promise.allSettled([sink.send([record], ['t'], [0]), sink.send([record], ['t'], [1])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(producers.made).toHaveLength(2);
  });
});
