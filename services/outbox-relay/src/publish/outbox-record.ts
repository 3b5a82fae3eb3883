/** An outbox row as the relay routes it to Kafka, whichever way it was read. */
export interface OutboxRecord {
  id: string;
  aggregateType: string;
  aggregateId: string;
  type: string;
  /** The Confluent-framed Avro value, passed through byte for byte. */
  payload: Buffer;
  /** The row's `timestamp` column, when the table has one. */
  timestampMs: number | undefined;
  /** Extra columns placed as headers (Debezium's table.fields.additional.placement). */
  headers: Record<string, string>;
  /** When the row's transaction committed (Unix ms), for the commit → ack latency. */
  committedAtMs: number;
}
