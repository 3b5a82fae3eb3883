import type { Lsn } from '@sluice/outbox';

/** The pgoutput (protocol version 1) messages the relay reads, decoded. */
export interface RelationColumn {
  name: string;
  typeOid: number;
  isKey: boolean;
}

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: bigint; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  | { tag: 'relation'; relationId: number; schema: string; name: string; columns: RelationColumn[] }
  | { tag: 'insert'; relationId: number; tuple: TupleValue[] }
  | { tag: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer }
  | { tag: 'other'; kind: string };

/** A column of a tuple in binary mode: raw send/recv bytes, null, or an unchanged TOAST value. */
export type TupleValue = Buffer | null | 'unchanged';

/** A frame of the replication stream (CopyData from the walsender). */
export type ReplicationFrame =
  | { kind: 'xlog'; walStart: Lsn; walEnd: Lsn; sendTime: bigint; message: PgOutputMessage }
  | { kind: 'keepalive'; walEnd: Lsn; sendTime: bigint; replyRequested: boolean };
