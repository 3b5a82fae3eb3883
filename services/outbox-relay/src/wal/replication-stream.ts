import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import { encodeStandbyStatus } from './pgoutput/decoder';
import { quoteIdent } from '@sluice/db';
import { formatLsn, type Lsn } from '@sluice/outbox';

/** pg's Submittable contract: the client hands the connection over while the query is active. */
interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: NodeJS.ReadableStream & { pause(): void; resume(): void };
}

/**
 * START_REPLICATION as a pg "submittable" query: once the server switches to
 * CopyBoth mode, each CopyData message is one replication frame.
 */
class StartReplication extends EventEmitter {
  constructor(private readonly text: string) {
    super();
  }
  submit(connection: PgConnection): void {
    connection.query(this.text);
  }
  handleCopyData(msg: { chunk: Buffer }): void {
    this.emit('frame', msg.chunk);
  }
  handleError(err: Error): void {
    this.emit('error', err);
  }
  handleReadyForQuery(): void {
    this.emit('end');
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handleCopyInResponse(): void {}
  handlePortalSuspended(): void {}
}

export interface ReplicationStreamOptions {
  url: string;
  slot: string;
  publication: string;
  applicationName: string;
  /** Ask for pgoutput's logical decoding messages too (pg_logical_emit_message). */
  messages: boolean;
}

/**
 * One replication connection streaming a logical slot with pgoutput. Frames
 * arrive on 'frame'; 'error' and 'end' report its end. The caller reports its
 * progress with sendStatus and applies backpressure with pause/resume, which
 * stop reading the socket so the walsender blocks and PostgreSQL keeps the WAL.
 */
export class ReplicationStream extends EventEmitter {
  private client: Client | undefined;
  private connection: PgConnection | undefined;
  private paused = false;

  constructor(private readonly options: ReplicationStreamOptions) {
    super();
  }

  async start(fromLsn: Lsn = 0n): Promise<void> {
    const client = new Client({
      connectionString: this.options.url,
      replication: 'database',
      application_name: this.options.applicationName,
    } as ConstructorParameters<typeof Client>[0]);
    this.client = client;
    client.on('error', (err) => this.emit('error', err));
    client.on('end', () => this.emit('end'));
    await client.connect();
    this.connection = (client as unknown as { connection: PgConnection }).connection;
    const o = this.options;
    const sql =
      `START_REPLICATION SLOT ${quoteIdent(o.slot)} LOGICAL ${formatLsn(fromLsn)} ` +
      `(proto_version '1', publication_names ${quoteLiteral(quoteIdent(o.publication))}, binary 'true', messages '${o.messages}')`;
    const query = new StartReplication(sql);
    query.on('frame', (chunk: Buffer) => this.emit('frame', chunk));
    query.on('error', (err: Error) => this.emit('error', err));
    query.on('end', () => this.emit('end'));
    client.query(query as never);
  }

  /** Reports positions to the walsender; `flushed` becomes the slot's confirmed_flush_lsn. */
  sendStatus(received: Lsn, flushed: Lsn, replyNow = false): void {
    this.connection?.sendCopyFromChunk(encodeStandbyStatus(received, flushed, flushed, Date.now(), replyNow));
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection?.stream.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection?.stream.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connection = undefined;
    if (!client) return;
    // A walsender in CopyBoth mode does not answer Terminate promptly; end the socket.
    const c = client as unknown as { connection: { stream: { destroy(): void } } };
    await Promise.race([client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
    c.connection.stream.destroy();
  }
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
