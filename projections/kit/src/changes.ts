/**
 * Change notifications: the projector sends them from the transaction that
 * changes a live read model (PostgreSQL delivers a NOTIFY only when that
 * transaction commits, so a listener never hears of a change it cannot read
 * yet); the query API listens to invalidate its cache and to wake requests
 * waiting for a version.
 */
export const CHANGES_CHANNEL = 'sluice_projection_changes';

/** NOTIFY payloads must stay below 8000 bytes. */
const MAX_PAYLOAD = 7_900;

export interface ChangedKey {
  readonly key: string;
  /** The aggregate version the change brought the key to. */
  readonly version: number;
}

/**
 * Where a batch of changes came from, for freshness and tracing at the reader: when the projector
 * applied it, when the oldest of its events committed, and the traces of the events whose trace
 * is recorded (a few at most). The reader's hop (applied to visible) and the end-to-end age
 * (commit to visible) are measured from it.
 */
export interface ChangeOrigin {
  /** Unix ms, taken as the projector's transaction is about to commit. */
  readonly appliedAtMs: number;
  /** Unix ms; undefined when no event of the batch had a timestamp. */
  readonly committedAtMs?: number | undefined;
  /** W3C traceparents. */
  readonly traceparents: readonly string[];
}

/** Traceparents one notification carries at most (each is 55 bytes of the 8000). */
export const MAX_ORIGIN_TRACES = 8;

export type ChangeMessage =
  | {
      readonly kind: 'changed';
      readonly projection: string;
      readonly version: number;
      readonly keys: ChangedKey[];
      /** Set by projectors that send it; the first payload of a batch carries it. */
      readonly origin?: ChangeOrigin;
    }
  /** The live version switched (rebuild or rollback): every cached answer of the projection is void. */
  | { readonly kind: 'switched'; readonly projection: string; readonly version: number };

/**
 * One or more payloads (each under the NOTIFY limit) carrying the changed keys:
 * `c1|<projection>|<version>|key@v,key@v`, the first followed by the batch's origin when given
 * (`|o1|<appliedAtMs>|<committedAtMs>|<traceparent>,…`). Readers that predate the origin read
 * only the first four fields, so it needs no new format version.
 */
export function encodeChanges(projection: string, version: number, keys: readonly ChangedKey[], origin?: ChangeOrigin): string[] {
  const head = `c1|${projection}|${version}|`;
  const tail = origin ? encodeOrigin(origin) : '';
  const payloads: string[] = [];
  let current = head;
  for (const { key, version: v } of keys) {
    const item = `${key}@${v}`;
    const room = MAX_PAYLOAD - (payloads.length === 0 ? tail.length : 0);
    if (current.length + item.length + 1 > room && current !== head) {
      payloads.push(current);
      current = head;
    }
    current += current === head ? item : `,${item}`;
  }
  if (current !== head) payloads.push(current);
  if (payloads.length > 0) payloads[0] += tail;
  return payloads;
}

function encodeOrigin(o: ChangeOrigin): string {
  const traces = o.traceparents.slice(0, MAX_ORIGIN_TRACES).filter((t) => /^[0-9a-f-]{55}$/.test(t));
  return `|o1|${Math.round(o.appliedAtMs)}|${o.committedAtMs === undefined ? '' : Math.round(o.committedAtMs)}|${traces.join(',')}`;
}

function decodeOrigin(
  tag: string | undefined,
  applied: string | undefined,
  committed: string | undefined,
  traces: string | undefined,
): ChangeOrigin | undefined {
  if (tag !== 'o1') return undefined;
  const appliedAtMs = Number(applied);
  if (!applied || !Number.isFinite(appliedAtMs)) return undefined;
  const committedAtMs = committed ? Number(committed) : undefined;
  return {
    appliedAtMs,
    ...(committedAtMs !== undefined && Number.isFinite(committedAtMs) && { committedAtMs }),
    traceparents: traces ? traces.split(',').filter(Boolean) : [],
  };
}

export function encodeSwitch(projection: string, version: number): string {
  return `s1|${projection}|${version}`;
}

/** Undefined for a payload this version does not understand (a newer sender): listeners ignore it. */
export function decodeChange(payload: string): ChangeMessage | undefined {
  const [kind, projection, version, body, tag, applied, committed, traces] = payload.split('|');
  const v = Number(version);
  if (!projection || !Number.isInteger(v)) return undefined;
  if (kind === 's1') return { kind: 'switched', projection, version: v };
  if (kind !== 'c1' || body === undefined) return undefined;
  const keys: ChangedKey[] = [];
  for (const item of body.split(',')) {
    const at = item.lastIndexOf('@');
    const kv = Number(item.slice(at + 1));
    if (at > 0 && Number.isInteger(kv)) keys.push({ key: item.slice(0, at), version: kv });
  }
  const origin = decodeOrigin(tag, applied, committed, traces);
  return { kind: 'changed', projection, version: v, keys, ...(origin && { origin }) };
}
