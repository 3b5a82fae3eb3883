import type { DecodedEventLike, ProjectionDefinition } from './projection';

/**
 * Turns an event of an older type into the type a projection folds today. A
 * breaking change to an event is made as a new event type (its own record
 * name, so its own registry subject; docs/schema-evolution.md); the old
 * type's events stay on the topic, and a projection that must fold them
 * upcasts them where it reads them. Pure and deterministic: a rebuild upcasts
 * the same old event to the same new one every time.
 */
export interface Upcaster<E extends DecodedEventLike = DecodedEventLike> {
  /** The old event type, as the codec decodes it (with the old record as reader schema). */
  readonly from: string;
  /** The old event's data as the new event, or an event of another older type with its own upcaster. */
  upcast(data: unknown): E | DecodedEventLike;
}

/** Upcasters chained more deeply than this are a loop. */
const MAX_CHAIN = 16;

/**
 * The projection reading the old types too: each event of an upcaster's
 * `from` type is upcast (through a chain if it leads to another old type)
 * before the projection places and accepts it; events of other types pass
 * unchanged. The old types join `eventTypes`, so the fold's fingerprint
 * (read-model snapshots) changes with them.
 */
export function withUpcasters<E extends DecodedEventLike>(
  def: ProjectionDefinition<E>,
  upcasters: readonly Upcaster<E>[],
): ProjectionDefinition<E> {
  const byType = new Map<string, Upcaster<E>>();
  for (const u of upcasters) {
    if (byType.has(u.from)) throw new RangeError(`two upcasters from ${u.from}`);
    if (def.eventTypes.includes(u.from))
      throw new RangeError(`${def.name} folds ${u.from} itself; an upcaster must not shadow it`);
    byType.set(u.from, u);
  }
  const current = (event: DecodedEventLike): DecodedEventLike => {
    let e = event;
    for (let depth = 0; ; depth++) {
      const u = byType.get(e.type);
      if (!u) return e;
      if (depth === MAX_CHAIN) throw new RangeError(`upcasting ${event.type} does not end after ${MAX_CHAIN} steps`);
      e = u.upcast(e.data);
    }
  };
  return {
    ...def,
    eventTypes: [...def.eventTypes, ...byType.keys()],
    position: (event) => def.position(current(event)),
    accept: (event) => def.accept(current(event)),
  };
}
