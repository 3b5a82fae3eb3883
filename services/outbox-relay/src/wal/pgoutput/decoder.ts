import type { PgOutputMessage, RelationColumn, ReplicationFrame, TupleValue } from './messages';

/**
 * Decodes the frames of a logical replication stream started with
 * pgoutput's options `proto_version '1', binary 'true', messages 'true'`.
 * Pure: bytes in, values out. Layouts follow PostgreSQL's "Logical
 * Replication Message Formats" and "Streaming Replication Protocol".
 */
export function decodeFrame(buf: Buffer): ReplicationFrame {
  const r = new Reader(buf);
  const kind = r.byte();
  if (kind === 0x77 /* w: XLogData */) {
    const walStart = r.uint64();
    const walEnd = r.uint64();
    const sendTime = r.int64();
    return { kind: 'xlog', walStart, walEnd, sendTime, message: decodeMessage(r) };
  }
  if (kind === 0x6b /* k: primary keepalive */) {
    return { kind: 'keepalive', walEnd: r.uint64(), sendTime: r.int64(), replyRequested: r.byte() === 1 };
  }
  throw new Error(`unknown replication frame 0x${kind.toString(16)}`);
}

function decodeMessage(r: Reader): PgOutputMessage {
  const tag = String.fromCharCode(r.byte());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.uint64(), commitTime: r.int64(), xid: r.uint32() };
    case 'C': {
      r.byte(); // flags, unused
      return { tag: 'commit', commitLsn: r.uint64(), endLsn: r.uint64(), commitTime: r.int64() };
    }
    case 'R': {
      const relationId = r.uint32();
      const schema = r.cstring();
      const name = r.cstring();
      r.byte(); // replica identity setting
      const n = r.uint16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.byte();
        const colName = r.cstring();
        const typeOid = r.uint32();
        r.uint32(); // atttypmod
        columns.push({ name: colName, typeOid, isKey: (flags & 1) === 1 });
      }
      return { tag: 'relation', relationId, schema, name, columns };
    }
    case 'I': {
      const relationId = r.uint32();
      const marker = String.fromCharCode(r.byte());
      if (marker !== 'N') throw new Error(`insert without a new tuple (marker ${marker})`);
      return { tag: 'insert', relationId, tuple: decodeTuple(r) };
    }
    case 'M': {
      const flags = r.byte();
      const lsn = r.uint64();
      const prefix = r.cstring();
      const length = r.uint32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(length) };
    }
    default:
      // Update, Delete, Truncate, Type and Origin carry nothing the relay routes.
      return { tag: 'other', kind: tag };
  }
}

function decodeTuple(r: Reader): TupleValue[] {
  const n = r.uint16();
  const values: TupleValue[] = new Array<TupleValue>(n);
  for (let i = 0; i < n; i++) {
    const kind = String.fromCharCode(r.byte());
    switch (kind) {
      case 'n':
        values[i] = null;
        break;
      case 'u':
        values[i] = 'unchanged';
        break;
      case 'b':
      case 't':
        values[i] = r.bytes(r.uint32());
        break;
      default:
        throw new Error(`unknown tuple column kind ${kind}`);
    }
  }
  return values;
}

class Reader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  byte(): number {
    return this.buf.readUInt8(this.offset++);
  }
  uint16(): number {
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  uint32(): number {
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint64(): bigint {
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new Error('unterminated string in replication message');
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }
  /**
   * A view into the frame. pg's protocol parser reuses its read buffer for
   * later socket reads, so a value kept beyond the frame's synchronous
   * handling must be copied (the row mapper copies the payload it keeps).
   */
  bytes(n: number): Buffer {
    if (this.offset + n > this.buf.length) throw new Error('replication message shorter than its lengths say');
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}

/** Standby status update ('r'): positions written, flushed and applied; microseconds since 2000-01-01. */
export function encodeStandbyStatus(written: bigint, flushed: bigint, applied: bigint, nowMs: number, replyNow = false): Buffer {
  const buf = Buffer.alloc(34);
  buf.writeUInt8(0x72, 0);
  buf.writeBigUInt64BE(written, 1);
  buf.writeBigUInt64BE(flushed, 9);
  buf.writeBigUInt64BE(applied, 17);
  buf.writeBigInt64BE(BigInt(nowMs - PG_EPOCH_MS) * 1000n, 25);
  buf.writeUInt8(replyNow ? 1 : 0, 33);
  return buf;
}

export const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** pg timestamps (microseconds since 2000-01-01) to Unix milliseconds. */
export function pgTimeToMs(micros: bigint): number {
  return Number(micros / 1000n) + PG_EPOCH_MS;
}
