import { filterByType } from './filter-by-type';
import { context, messages, offsets, record } from './test-support';

describe('filterByType middleware', () => {
  it('drops records whose type header is not used, keeps used ones and those without a header', async () => {
    let seen: string[] = [];
    let skipped = 0;
    const run = filterByType(['WithdrawalRequested'], { onSkipped: (n) => (skipped += n) })(
      async (ms) => void (seen = offsets(ms)),
    );
    await run(
      messages(
        record(1, { headers: { type: 'FundsDeposited' } }),
        record(2, { headers: { type: 'WithdrawalRequested' } }),
        record(3),
      ),
      context(),
    );
    expect(seen).toEqual(['2', '3']);
    expect(skipped).toBe(1);
  });

  it('calls no handler when every record is dropped', async () => {
    let called = false;
    await filterByType(['A'])(async () => void (called = true))(messages(record(1, { headers: { type: 'B' } })), context());
    expect(called).toBe(false);
  });
});
