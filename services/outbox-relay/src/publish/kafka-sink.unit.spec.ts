import type { Producer } from 'kafkajs';
import type { ProduceResult, SendOptions } from '@platformatic/kafka';
import { KafkajsSink, PlatformaticSink, type PlatformaticProducerPort } from './kafka-sink';
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

/**
 * A platformatic producer double whose leaders can die: a send fails (as the client's retries
 * against a dead broker end) while a partition it holds is led by a dead broker according to
 * the metadata it has, reporting the partitions it did write, as the client does.
 */
function clusterProducer(deadUntilMetadataCleared: Set<number>) {
  const written: { partition: number; id: string }[] = [];
  let metadataClears = 0;
  const producer: PlatformaticProducerPort = {
    send: async (options: SendOptions<Buffer, Buffer, Buffer, Buffer>) => {
      const messages = options.messages;
      const offsets: { topic: string; partition: number; offset: bigint }[] = [];
      for (const m of messages) {
        if (deadUntilMetadataCleared.has(m.partition!)) continue;
        written.push({ partition: m.partition!, id: String(m.headers instanceof Map ? [...m.headers.values()][0] : '') });
        if (!offsets.some((o) => o.partition === m.partition))
          offsets.push({ topic: m.topic, partition: m.partition!, offset: 0n });
      }
      if (offsets.length < new Set(messages.map((m) => m.partition)).size) {
        throw Object.assign(new Error('Producing messages failed: connect ECONNREFUSED'), {
          produced: { offsets },
          findBy: () => undefined,
        });
      }
      return { offsets } as unknown as ProduceResult;
    },
    close: async () => undefined,
    clearMetadata: () => {
      metadataClears++;
      deadUntilMetadataCleared.clear(); // the cluster answers with the new leaders
    },
  };
  return { producer, written, clears: () => metadataClears };
}

const records = (ids: string[]) =>
  ids.map((id) => ({ id, aggregateId: id, type: 'T', payload: Buffer.from('x'), headers: {} }) as unknown as OutboxRecord);

describe('PlatformaticSink', () => {
  it('regression: a send to a leader that was killed looks the leaders up again instead of waiting for that broker', async () => {
    const cluster = clusterProducer(new Set([1]));
    const retries: number[] = [];
    const sink = new PlatformaticSink(
      cluster.producer,
      () => 0,
      (_err, attempt) => retries.push(attempt),
    );

    await sink.send(records(['a', 'b', 'c']), ['t', 't', 't'], [0, 1, 2]);

    expect(retries).toEqual([1]);
    expect(cluster.clears()).toBe(1);
    // Partitions 0 and 2 were written by the first attempt and are not sent again; partition 1 once, by the retry.
    expect(cluster.written.map((w) => [w.partition, w.id]).sort()).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
  });

  it('gives up on an error the client marks as not retriable', async () => {
    const producer: PlatformaticProducerPort = {
      send: async () => {
        throw Object.assign(new Error('Topic authorization failed'), {
          findBy: (key: string) => (key === 'canRetry' ? {} : undefined),
        });
      },
      close: async () => undefined,
      clearMetadata: () => undefined,
    };
    const sink = new PlatformaticSink(producer, () => 0);
    await expect(sink.send(records(['a']), ['t'], [0])).rejects.toThrow(/authorization/);
  });
});
