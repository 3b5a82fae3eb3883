import { SluiceError } from '@sluice/core';
import { deadLetter } from './dead-letter';
import { RecordError } from './errors';
import { DLQ_HEADERS } from './headers';
import { context, MemoryPublisher, messages, offsets, record } from './test-support';

const setup = () => {
  const publisher = new MemoryPublisher();
  const mw = deadLetter({ publisher, topic: 'g.dlq', group: 'g', clock: () => Date.UTC(2026, 0, 1) });
  return { publisher, mw };
};

describe('deadLetter middleware', () => {
  it('parks the record a failure names, with the dlq.* headers, and hands the rest over again', async () => {
    const { publisher, mw } = setup();
    const bad = record(2, { headers: { type: 'WithdrawalRequested' } });
    const handled: string[][] = [];
    await mw(async (ms) => {
      if (ms.some((m) => m.record === bad)) throw new RecordError('bad_wire_format', 'not framed', bad);
      handled.push(offsets(ms));
    })(messages(record(1), bad, record(3)), context());
    expect(handled).toEqual([['1', '3']]);
    expect(publisher.sent).toHaveLength(1);
    const { topic, message } = publisher.sent[0]!;
    expect(topic).toBe('g.dlq');
    expect(message.key).toEqual(bad.key);
    expect(message.value).toEqual(bad.value);
    expect(message.headers).toMatchObject({
      type: Buffer.from('WithdrawalRequested'),
      [DLQ_HEADERS.code]: 'bad_wire_format',
      [DLQ_HEADERS.reason]: 'not framed',
      [DLQ_HEADERS.attempts]: '1',
      [DLQ_HEADERS.topic]: 't',
      [DLQ_HEADERS.partition]: '0',
      [DLQ_HEADERS.offset]: '2',
      [DLQ_HEADERS.group]: 'g',
      [DLQ_HEADERS.failedAt]: '2026-01-01T00:00:00.000Z',
    });
  });

  it('given a failure that names no record, finds the culprit by handling one record at a time', async () => {
    const { publisher, mw } = setup();
    const handled: string[] = [];
    await mw(async (ms) => {
      if (ms.some((m) => m.record.offset === '2')) throw new SluiceError('invalid_command', 'bad');
      handled.push(...offsets(ms));
    })(messages(record(1), record(2), record(3)), context());
    expect(handled).toEqual(['1', '3']);
    expect(publisher.sent.map((s) => s.message.headers?.[DLQ_HEADERS.offset])).toEqual(['2']);
  });

  it('never parks a retriable failure: it is rethrown', async () => {
    const { publisher, mw } = setup();
    const down = new SluiceError('registry_unavailable', 'down', { retriable: true });
    await expect(mw(async () => Promise.reject(down))(messages(record(1)), context())).rejects.toBe(down);
    expect(publisher.sent).toEqual([]);
  });

  it('carries the attempts a retries_exhausted failure counted', async () => {
    const { publisher, mw } = setup();
    const r = record(1);
    const err = new RecordError('retries_exhausted', '5 attempts failed', r);
    Object.assign(err.details, { attempts: 5 });
    await mw(async () => Promise.reject(err))(messages(r), context());
    expect(publisher.sent[0]?.message.headers?.[DLQ_HEADERS.attempts]).toBe('5');
  });

  it('fails the batch when the dead-letter topic cannot take the record', async () => {
    const mw = deadLetter({
      publisher: { publish: async () => Promise.reject(new Error('broker down')) },
      topic: 'g.dlq',
      group: 'g',
    });
    const r = record(1);
    await expect(mw(async () => Promise.reject(new RecordError('x', 'y', r)))(messages(r), context())).rejects.toThrow(
      'broker down',
    );
  });
});
