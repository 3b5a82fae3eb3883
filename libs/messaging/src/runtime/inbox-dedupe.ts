import type { BatchContext, ConsumedMessage, Handler, Middleware } from './ports';
import { headerText } from './headers';

/**
 * An inbox: the ids of the messages a consumer has handled, written in the
 * same transaction as their effects, so a redelivered message finds its id
 * and changes nothing.
 */
export interface Inbox<Tx> {
  /** Runs fn in one transaction: the claims and what the handler writes commit together or not at all. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Claims the ids in tx; resolves with those claimed now (the others were handled before). */
  claim(tx: Tx, ids: readonly string[]): Promise<ReadonlySet<string>>;
}

export type TransactionalContext<Tx> = BatchContext & { readonly tx: Tx };

/** The event id the relay puts in the `id` header. */
export const idHeader = (message: ConsumedMessage): string | undefined => headerText(message.record, 'id');

/**
 * Opens a transaction per batch, claims the batch's message ids in the
 * inbox and hands the handler only the messages not handled before, with
 * the transaction in its context. Messages without an id always pass.
 */
export function inboxDedupe<Tx>(
  inbox: Inbox<Tx>,
  options: { idOf?: (message: ConsumedMessage) => string | undefined; onDuplicate?: (count: number) => void } = {},
): Middleware<TransactionalContext<Tx>, BatchContext> {
  const idOf = options.idOf ?? idHeader;
  return (next: Handler<TransactionalContext<Tx>>) => async (messages, ctx) => {
    await inbox.transaction(async (tx) => {
      const ids = messages.map(idOf);
      const claimed = await inbox.claim(tx, [...new Set(ids.filter((id): id is string => id !== undefined))]);
      const fresh = messages.filter((_, i) => ids[i] === undefined || claimed.has(ids[i]));
      // One id twice in one batch: only its first copy is handled.
      const seen = new Set<string>();
      const firsts = fresh.filter((_, i) => {
        const id = idOf(fresh[i]!);
        if (id === undefined) return true;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
      if (firsts.length < messages.length) options.onDuplicate?.(messages.length - firsts.length);
      if (firsts.length > 0) await next(firsts, { ...ctx, tx });
    });
  };
}
