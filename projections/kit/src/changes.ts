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

export type ChangeMessage =
  | { readonly kind: 'changed'; readonly projection: string; readonly version: number; readonly keys: ChangedKey[] }
  /** The live version switched (rebuild or rollback): every cached answer of the projection is void. */
  | { readonly kind: 'switched'; readonly projection: string; readonly version: number };

/** One or more payloads (each under the NOTIFY limit) carrying the changed keys: `c1|<projection>|<version>|key@v,key@v`. */
export function encodeChanges(projection: string, version: number, keys: readonly ChangedKey[]): string[] {
  const head = `c1|${projection}|${version}|`;
  const payloads: string[] = [];
  let current = head;
  for (const { key, version: v } of keys) {
    const item = `${key}@${v}`;
    if (current.length + item.length + 1 > MAX_PAYLOAD && current !== head) {
      payloads.push(current);
      current = head;
    }
    current += current === head ? item : `,${item}`;
  }
  if (current !== head) payloads.push(current);
  return payloads;
}

export function encodeSwitch(projection: string, version: number): string {
  return `s1|${projection}|${version}`;
}

/** Undefined for a payload this version does not understand (a newer sender): listeners ignore it. */
export function decodeChange(payload: string): ChangeMessage | undefined {
  const [kind, projection, version, body] = payload.split('|');
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
  return { kind: 'changed', projection, version: v, keys };
}
