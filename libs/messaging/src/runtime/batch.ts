import type { BatchContext, ConsumedMessage, Handler, Middleware } from './ports';
import { withRecordContext } from './trace';

/**
 * Bounds what one handler call gets: a fetched batch is cut into chunks of at
 * most `maxMessages`, each committed as soon as it is done, so a crash loses
 * at most one chunk's work (which is then redone) and a transaction per
 * chunk stays small.
 */
export function batch(options: { maxMessages: number }): Middleware {
  if (!(options.maxMessages >= 1)) throw new RangeError('maxMessages must be at least 1');
  return (next) => async (messages, ctx) => {
    for (let i = 0; i < messages.length; i += options.maxMessages) {
      if (i > 0 && !ctx.owned()) throw new Error('partition revoked mid-batch');
      const chunk = messages.slice(i, i + options.maxMessages);
      await next(chunk, ctx);
      if (i + options.maxMessages < messages.length) await ctx.commit(chunk.at(-1)!.record);
    }
  };
}

/** A handler of one record at a time, in order, as a batch handler; each runs in its record's trace context. */
export function eachMessage<C extends BatchContext>(handle: (message: ConsumedMessage, ctx: C) => Promise<void>): Handler<C> {
  return async (messages, ctx) => {
    for (const message of messages) await withRecordContext(message.record, () => handle(message, ctx));
  };
}
