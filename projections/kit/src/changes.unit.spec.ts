import { decodeChange, encodeChanges, encodeSwitch } from './changes';

describe('change notifications', () => {
  it('given changed keys, when encoded and decoded, then the same keys and versions come back', () => {
    const keys = [
      { key: '01970000-0000-7000-8000-000000000001', version: 3 },
      { key: '01970000-0000-7000-8000-000000000002', version: 1 },
    ];
    const [payload, ...rest] = encodeChanges('wallet', 2, keys);
    expect(rest).toEqual([]);
    expect(decodeChange(payload!)).toEqual({ kind: 'changed', projection: 'wallet', version: 2, keys });
  });

  it('given more keys than one NOTIFY carries, when encoded, then every payload stays under 8000 bytes and none is lost', () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => ({
      key: `01970000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      version: i + 1,
    }));
    const payloads = encodeChanges('transactions', 1, keys);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
    const decoded = payloads.flatMap((p) => {
      const m = decodeChange(p);
      return m?.kind === 'changed' ? m.keys : [];
    });
    expect(decoded).toEqual(keys);
  });

  it('given no keys, then nothing to send', () => {
    expect(encodeChanges('wallet', 1, [])).toEqual([]);
  });

  it('given a switch, when decoded, then the projection and its new live version', () => {
    expect(decodeChange(encodeSwitch('wallet', 4))).toEqual({ kind: 'switched', projection: 'wallet', version: 4 });
  });

  it('given a payload of an unknown format, then it is ignored rather than misread', () => {
    expect(decodeChange('c9|wallet|1|x@1')).toBeUndefined();
    expect(decodeChange('garbage')).toBeUndefined();
  });
});

describe('change notifications with their origin', () => {
  const keys = [{ key: '01970000-0000-7000-8000-000000000001', version: 3 }];
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('given an origin, when encoded and decoded, then the applied and commit times and the traces come back', () => {
    const origin = { appliedAtMs: 1_700_000_000_250, committedAtMs: 1_700_000_000_100, traceparents: [traceparent] };
    const [payload] = encodeChanges('wallet', 2, keys, origin);
    expect(decodeChange(payload!)).toEqual({ kind: 'changed', projection: 'wallet', version: 2, keys, origin });
  });

  it('given an origin, then a reader of the plain format still reads the keys (the origin follows the fourth field)', () => {
    const [payload] = encodeChanges('wallet', 2, keys, { appliedAtMs: 1, traceparents: [traceparent] });
    const [kind, projection, version, body] = payload!.split('|');
    expect([kind, projection, version, body]).toEqual(['c1', 'wallet', '2', `${keys[0]!.key}@3`]);
  });

  it('given many keys and traces, then only the first payload carries the origin and every payload stays under 8000 bytes', () => {
    const many = Array.from({ length: 2_000 }, (_, i) => ({
      key: `01970000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      version: 1,
    }));
    const origin = { appliedAtMs: 2, committedAtMs: 1, traceparents: Array.from({ length: 20 }, () => traceparent) };
    const payloads = encodeChanges('transactions', 1, many, origin);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
    const decoded = payloads.map((p) => decodeChange(p));
    expect(decoded.map((m) => (m?.kind === 'changed' ? m.origin?.traceparents.length : -1))).toEqual([
      8,
      ...payloads.slice(1).map(() => undefined),
    ]);
    expect(decoded.flatMap((m) => (m?.kind === 'changed' ? m.keys : []))).toEqual(many);
  });
});
