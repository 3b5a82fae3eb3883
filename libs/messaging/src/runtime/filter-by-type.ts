import { TYPE_HEADER } from './headers';
import type { Middleware } from './ports';

/**
 * Drops records whose `type` header names an event this consumer does not
 * use, before anything decodes them (decoding is most of a consumer's cost
 * per record it ignores). A record without the header passes: only a decode
 * can tell what it is. `onSkipped` counts what was dropped.
 */
export function filterByType(
  types: Iterable<string>,
  options: { header?: string; onSkipped?: (count: number, topic: string) => void } = {},
): Middleware {
  const wanted = new Set(types);
  const header = options.header ?? TYPE_HEADER;
  return (next) => async (messages, ctx) => {
    const kept = messages.filter((m) => {
      const type = m.record.headers[header]?.[0]?.toString('utf8');
      return type === undefined || wanted.has(type);
    });
    if (kept.length < messages.length) options.onSkipped?.(messages.length - kept.length, ctx.topic);
    if (kept.length > 0) await next(kept, ctx);
  };
}
