import type { Kafka, Producer } from 'kafkajs';
import {
  AvroEventCodec,
  createIdempotentProducer,
  createKafka,
  deadLetter,
  DLQ_HEADERS,
  KafkaPublisher,
  RecordError,
  toInboundRecord,
} from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletCatalog } from '@sluice/schemas';
import { createTestTopic, readTopic, testEnv } from '@sluice/testing';
import { dlqTopicInspect, dlqTopicList, dlqTopicRedrive, dlqTopics, type DlqTopicContext } from './dlq-topics';

/** `sluice dlq … --topic`: any consumer's dead-letter topic, listed, inspected and re-driven. */
const logger = createLogger('dlq-cli-test', 'silent');
let kafka: Kafka;
let producer: Producer;
let source: string;
let dlq: string;
let lines: string[];
let ctx: DlqTopicContext;

beforeAll(async () => {
  kafka = createKafka({ ...testEnv.kafka, clientId: 'dlq-cli-test', logger });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  source = await createTestTopic(kafka, 'dlq_cli_source', 2);
  dlq = await createTestTopic(kafka, 'dlq_cli', 1, '.dlq');
  // Two records of the source topic, parked by the runtime's dead-letter middleware as a consumer would.
  await producer.send({
    topic: source,
    acks: -1,
    messages: [
      { key: 'w1', value: 'not avro', partition: 1, headers: { type: 'WithdrawalRequested', id: 'e1' } },
      { key: 'w2', value: 'nor this', partition: 1, headers: { type: 'WalletOpened', id: 'e2' } },
    ],
  });
  const originals = await readTopic(kafka, source);
  const park = deadLetter({ publisher: new KafkaPublisher(producer), topic: dlq, group: 'some-consumer' });
  for (const o of originals) {
    const record = toInboundRecord(o.topic, o.partition, o.message);
    await park(async () => {
      throw new RecordError('bad_wire_format', 'value is not in the Confluent wire format', record);
    })([{ record }], {
      topic: source,
      partition: o.partition,
      highWatermark: '2',
      signal: new AbortController().signal,
      heartbeat: async () => undefined,
      commit: async () => undefined,
      owned: () => true,
      release: () => undefined,
    });
  }
});

beforeEach(() => {
  lines = [];
  ctx = {
    kafka,
    codec: AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], 'outbox.event.${routedByValue}'),
    print: (line) => lines.push(line),
  };
});

afterAll(async () => {
  await producer?.disconnect();
});

describe('sluice dlq --topic', () => {
  it('topics lists every dead-letter topic with its record count', async () => {
    expect(await dlqTopics(ctx)).toBe(0);
    expect(lines.find((l) => l.startsWith(dlq))).toMatch(/\s2 records$/);
  });

  it('list shows where each dead letter came from and why', async () => {
    expect(await dlqTopicList(ctx, dlq)).toBe(0);
    expect(lines.filter((l) => l.includes('bad_wire_format'))).toHaveLength(2);
    expect(lines.join('\n')).toContain(`${source} 1:0`);
  });

  it('inspect prints the error, the headers and the value it could not decode', async () => {
    expect(await dlqTopicInspect(ctx, dlq, '0:1')).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain('error        bad_wire_format: value is not in the Confluent wire format');
    expect(text).toContain(`from         ${source} partition 1 offset 1`);
    expect(text).toContain('type: WalletOpened');
    expect(text).toMatch(/value {8}8 bytes, not Avro .*: nor this/);
  });

  it('redrive --all sends each back to its topic and partition without the dlq headers, once', async () => {
    expect(await dlqTopicRedrive(ctx, dlq, { all: true, force: false })).toBe(0);
    const back = (await readTopic(kafka, source)).filter((r) => r.message.headers?.[DLQ_HEADERS.redrivenFrom]);
    expect(back.map((r) => [r.partition, r.message.key?.toString(), r.message.value?.toString()])).toEqual([
      [1, 'w1', 'not avro'],
      [1, 'w2', 'nor this'],
    ]);
    expect(back[0]?.message.headers?.[DLQ_HEADERS.redrivenFrom]?.toString()).toBe(`${dlq}/0/0`);
    expect(back[0]?.message.headers?.type?.toString()).toBe('WithdrawalRequested');
    expect(
      Object.keys(back[0]?.message.headers ?? {}).filter((h) => h.startsWith('dlq.') && h !== DLQ_HEADERS.redrivenFrom),
    ).toEqual([]);
    lines = [];
    expect(await dlqTopicRedrive(ctx, dlq, { all: true, force: false })).toBe(0);
    expect(lines).toEqual(['nothing to re-drive']);
  });

  it('redrive <partition:offset> sends that one back', async () => {
    expect(await dlqTopicRedrive(ctx, dlq, { at: '0:0', all: false, force: false })).toBe(0);
    expect(lines[0]).toContain(`0:0  → ${source} partition 1`);
    const back = (await readTopic(kafka, source)).filter((r) => r.message.headers?.[DLQ_HEADERS.redrivenFrom]);
    expect(back).toHaveLength(3);
  });
});
