import { deadLetterHeaders, DLQ_HEADERS } from './headers';
import { isDeadLetterTopic, parseDeadLetter, redriveMessage } from './dead-letter-topics';
import type { InboundRecord } from './ports';
import { record } from './test-support';

/** A record as the dead-letter middleware writes it to g.dlq. */
function letter(original: InboundRecord): InboundRecord {
  const headers = deadLetterHeaders(original, { code: 'bad_wire_format', reason: 'nope', attempts: 2, group: 'g' }, new Date(0));
  return {
    ...original,
    topic: 'g.dlq',
    offset: '9',
    headers: Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).map((x) => Buffer.from(x))]),
    ),
  };
}

describe('dead-letter topics', () => {
  it('knows a dead-letter topic by its suffix', () => {
    expect(['g.dlq', 'sluice.wallet.commands.dlq', 'x_dlq'].every(isDeadLetterTopic)).toBe(true);
    expect(isDeadLetterTopic('outbox.event.wallet')).toBe(false);
  });

  it('reads what a dead letter says from its dlq.* headers', () => {
    expect(parseDeadLetter(letter(record(4)))).toMatchObject({
      code: 'bad_wire_format',
      reason: 'nope',
      attempts: 2,
      group: 'g',
      original: { topic: 't', partition: 0, offset: '4' },
      failedAt: '1970-01-01T00:00:00.000Z',
    });
  });

  it('re-drives to the original topic and partition with the original headers, marked with where it came from', () => {
    const { topic, message } = redriveMessage(parseDeadLetter(letter(record(4, { headers: { type: 'WalletOpened' } }))));
    expect(topic).toBe('t');
    expect(message.partition).toBe(0);
    expect(message.value).toEqual(Buffer.from('v4'));
    expect(Object.keys(message.headers ?? {}).sort()).toEqual([DLQ_HEADERS.redrivenFrom, 'type']);
    expect(String((message.headers?.[DLQ_HEADERS.redrivenFrom] as Buffer[])[0])).toBe('g.dlq/0/9');
  });
});
