import { decodeFrame, encodeStandbyStatus, PG_EPOCH_MS } from './decoder';
import { formatLsn, parseLsn } from '@sluice/outbox';

/** Builds replication frames byte by byte, as the walsender sends them. */
class Bytes {
  private parts: Buffer[] = [];
  u8(v: number) {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v: number) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string) {
    this.parts.push(Buffer.from(`${s}\0`));
    return this;
  }
  raw(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  tag(c: string) {
    return this.u8(c.charCodeAt(0));
  }
  done() {
    return Buffer.concat(this.parts);
  }
}
const xlog = (body: Bytes) => new Bytes().tag('w').u64(0x100n).u64(0x200n).u64(5n).raw(body.done()).done();

describe('pgoutput decoder', () => {
  it('decodes Begin and Commit with their LSNs and times', () => {
    const begin = decodeFrame(xlog(new Bytes().tag('B').u64(0x16b3748n).u64(1_000_000n).u32(742)));
    expect(begin).toMatchObject({
      kind: 'xlog',
      walStart: 0x100n,
      walEnd: 0x200n,
      message: { tag: 'begin', finalLsn: 0x16b3748n, xid: 742 },
    });
    const commit = decodeFrame(xlog(new Bytes().tag('C').u8(0).u64(0x10n).u64(0x20n).u64(7n)));
    expect(commit).toMatchObject({ message: { tag: 'commit', commitLsn: 0x10n, endLsn: 0x20n, commitTime: 7n } });
  });

  it('decodes a Relation and a binary Insert, with nulls', () => {
    const relation = decodeFrame(
      xlog(
        new Bytes()
          .tag('R')
          .u32(16384)
          .str('public')
          .str('outbox')
          .u8(100)
          .u16(2)
          .u8(1)
          .str('id')
          .u32(2950)
          .u32(0xffffffff)
          .u8(0)
          .str('traceparent')
          .u32(1043)
          .u32(59),
      ),
    );
    expect(relation).toMatchObject({
      message: {
        tag: 'relation',
        relationId: 16384,
        schema: 'public',
        name: 'outbox',
        columns: [
          { name: 'id', typeOid: 2950, isKey: true },
          { name: 'traceparent', typeOid: 1043, isKey: false },
        ],
      },
    });
    const uuid = Buffer.from('0190a0000000700080000000000000aa', 'hex');
    const insert = decodeFrame(xlog(new Bytes().tag('I').u32(16384).tag('N').u16(2).tag('b').u32(16).raw(uuid).tag('n')));
    expect(insert).toMatchObject({ message: { tag: 'insert', relationId: 16384, tuple: [uuid, null] } });
  });

  it('decodes logical decoding messages and keepalives', () => {
    const msg = decodeFrame(xlog(new Bytes().tag('M').u8(1).u64(0x30n).str('sluice.heartbeat').u32(2).raw(Buffer.from('hi'))));
    expect(msg).toMatchObject({
      message: { tag: 'message', transactional: true, prefix: 'sluice.heartbeat', content: Buffer.from('hi') },
    });
    expect(decodeFrame(new Bytes().tag('k').u64(0x99n).u64(1n).u8(1).done())).toEqual({
      kind: 'keepalive',
      walEnd: 0x99n,
      sendTime: 1n,
      replyRequested: true,
    });
  });

  it('rejects a truncated message instead of reading garbage', () => {
    expect(() => decodeFrame(xlog(new Bytes().tag('I').u32(1).tag('N').u16(1).tag('b').u32(16).raw(Buffer.alloc(3))))).toThrow(
      /shorter/,
    );
  });

  it('encodes a standby status update', () => {
    const buf = encodeStandbyStatus(0x30n, 0x20n, 0x20n, PG_EPOCH_MS + 1, true);
    expect(buf.length).toBe(34);
    expect(String.fromCharCode(buf[0]!)).toBe('r');
    expect(buf.readBigUInt64BE(1)).toBe(0x30n);
    expect(buf.readBigUInt64BE(9)).toBe(0x20n);
    expect(buf.readBigInt64BE(25)).toBe(1000n);
    expect(buf[33]).toBe(1);
  });

  it('parses and formats LSNs', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(() => parseLsn('nope')).toThrow(RangeError);
  });
});
