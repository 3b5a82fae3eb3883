import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { EventCatalog } from '@sluice/schemas';
import { AvroEventCodec } from './avro-codec';

const catalog: EventCatalog = {
  aggregateType: 'probe',
  schemas: {
    Probed: {
      type: 'record',
      name: 'Probed',
      namespace: 'dev.sluice.codectest',
      fields: [{ name: 'eventId', type: 'string' }],
    },
  },
};

/** A registry whose register() answers from a script: an HTTP status to fail with, or an id. */
function scriptedRegistry(script: (number | { id: number })[]): { registry: SchemaRegistry; calls: () => number } {
  let calls = 0;
  const registry = {
    register: () => {
      const step = script[Math.min(calls++, script.length - 1)]!;
      if (typeof step === 'number') return Promise.reject(Object.assign(new Error(`status ${step}`), { status: step }));
      return Promise.resolve(step);
    },
  } as unknown as SchemaRegistry;
  return { registry, calls: () => calls };
}

describe('AvroEventCodec.registerAll', () => {
  it('given a registry failing with 5xx a few times, then it tries again and registers', async () => {
    const { registry, calls } = scriptedRegistry([500, 500, { id: 7 }]);
    const ids = await new AvroEventCodec(registry, [catalog], 't.${routedByValue}').registerAll();
    expect([...ids.values()]).toEqual([7]);
    expect(calls()).toBe(3);
  });

  it('given a refusal (409, an incompatible schema), then it fails at once with a final error', async () => {
    const { registry, calls } = scriptedRegistry([409, { id: 7 }]);
    await expect(new AvroEventCodec(registry, [catalog], 't.${routedByValue}').registerAll()).rejects.toMatchObject({
      code: 'registry_unavailable',
      retriable: false,
    });
    expect(calls()).toBe(1);
  });
});
