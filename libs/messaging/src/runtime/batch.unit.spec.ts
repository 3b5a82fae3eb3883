import { batch, eachMessage } from './batch';
import { context, messages, offsets, record } from './test-support';

describe('batch middleware', () => {
  it('cuts a batch into chunks of maxMessages and commits each chunk but the last as it is done', async () => {
    const chunks: string[][] = [];
    const ctx = context();
    await batch({ maxMessages: 2 })(async (ms) => void chunks.push(offsets(ms)))(
      messages(...[1, 2, 3, 4, 5].map((o) => record(o))),
      ctx,
    );
    expect(chunks).toEqual([['1', '2'], ['3', '4'], ['5']]);
    expect(ctx.commits).toEqual(['2', '4']);
  });

  it('stops between chunks once the partition is revoked', async () => {
    const chunks: string[][] = [];
    let owned = true;
    const run = batch({ maxMessages: 1 })(async (ms) => {
      chunks.push(offsets(ms));
      owned = false;
    });
    await expect(run(messages(record(1), record(2)), context({ owned: () => owned }))).rejects.toThrow('revoked');
    expect(chunks).toEqual([['1']]);
  });

  it('eachMessage hands records over one at a time, in order', async () => {
    const seen: string[] = [];
    await eachMessage(async (m) => void seen.push(m.record.offset))(messages(record(1), record(2)), context());
    expect(seen).toEqual(['1', '2']);
  });
});
