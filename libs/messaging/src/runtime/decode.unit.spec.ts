import { SluiceError } from '@sluice/core';
import { decode } from './decode';
import { RecordError } from './errors';
import type { ConsumedMessage } from './ports';
import { context, messages, record } from './test-support';

const codec = (fail?: (value: string) => Error | undefined) => ({
  decode: async (value: Buffer) => {
    const err = fail?.(value.toString());
    if (err) throw err;
    return { type: 'Evt', data: value.toString(), schemaId: 1 };
  },
});

describe('decode middleware', () => {
  it('given framed values, the handler gets each record with its decoded event', async () => {
    const seen: ConsumedMessage[] = [];
    await decode(codec())(async (ms) => void seen.push(...ms))(messages(record(1), record(2)), context());
    expect(seen.map((m) => m.event?.data)).toEqual(['v1', 'v2']);
  });

  it('given a value that can never decode, it fails naming that record with the codec code', async () => {
    const bad = record(2, { value: 'junk' });
    const run = decode(codec((v) => (v === 'junk' ? new SluiceError('bad_wire_format', 'not framed') : undefined)))(
      async () => undefined,
    );
    const err = await run(messages(record(1), bad), context()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordError);
    expect(err).toMatchObject({ code: 'bad_wire_format', record: bad, retriable: false });
  });

  it('given a record without a value, it fails as empty_value', async () => {
    const err = await decode(codec())(async () => undefined)(messages(record(1, { value: null })), context()).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'empty_value', retriable: false });
  });

  it('given the registry is unreachable, it rethrows the retriable error and calls no handler', async () => {
    let called = false;
    const down = new SluiceError('registry_unavailable', 'ECONNREFUSED', { retriable: true });
    const err = await decode(codec(() => down))(async () => void (called = true))(messages(record(1)), context()).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(down);
    expect(called).toBe(false);
  });
});
