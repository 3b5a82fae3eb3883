import { inboxDedupe, type Inbox } from './inbox-dedupe';
import { context, messages, offsets, record } from './test-support';

/** An inbox in memory whose transactions apply their claims only when they commit. */
function memoryInbox(): Inbox<Set<string>> & { ids: Set<string> } {
  const ids = new Set<string>();
  return {
    ids,
    async transaction(fn) {
      const tx = new Set<string>();
      const out = await fn(tx);
      for (const id of tx) ids.add(id);
      return out;
    },
    async claim(tx, claim) {
      const fresh = claim.filter((id) => !ids.has(id) && !tx.has(id));
      for (const id of fresh) tx.add(id);
      return new Set(fresh);
    },
  };
}

describe('inboxDedupe middleware', () => {
  it('hands over only messages whose id was not handled before, once per id, with the transaction', async () => {
    const inbox = memoryInbox();
    inbox.ids.add('a');
    let seen: string[] = [];
    let tx: unknown;
    await inboxDedupe(inbox)(async (ms, ctx) => {
      seen = offsets(ms);
      tx = ctx.tx;
    })(
      messages(
        record(1, { headers: { id: 'a' } }),
        record(2, { headers: { id: 'b' } }),
        record(3, { headers: { id: 'b' } }),
        record(4),
      ),
      context(),
    );
    expect(seen).toEqual(['2', '4']);
    expect(tx).toBeInstanceOf(Set);
    expect([...inbox.ids].sort()).toEqual(['a', 'b']);
  });

  it('claims nothing when the handler fails, so the redelivery is handled', async () => {
    const inbox = memoryInbox();
    const run = inboxDedupe(inbox)(async () => Promise.reject(new Error('db down')));
    await expect(run(messages(record(1, { headers: { id: 'a' } })), context())).rejects.toThrow('db down');
    expect(inbox.ids.size).toBe(0);
  });
});
