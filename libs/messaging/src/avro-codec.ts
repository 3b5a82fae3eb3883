import { SchemaRegistry, COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import { ConfluentSchemaRegistryError } from '@kafkajs/confluent-schema-registry/dist/errors';
import avro from 'avsc';
import { SluiceError } from '@sluice/core';
import { retry } from '@sluice/resilience';
import { fullName, type EventCatalog, type RecordSchema } from '@sluice/schemas';
import { registryEndpoint } from './registry-endpoint';
import { routeTopic, subjectFor } from './routing';
import { frame, unframe } from './wire-format';

export type CodecErrorCode = 'schema_violation' | 'unknown_event_type' | 'schema_not_found' | 'registry_unavailable';

export class CodecError extends SluiceError<CodecErrorCode> {}

interface WriterEntry {
  type: avro.Type;
  schemaId: number;
  subject: string;
}

export interface DecodedEvent {
  type: string;
  data: unknown;
  schemaId: number;
}

/**
 * Encodes events into Confluent-framed Avro under TopicRecordNameStrategy
 * subjects, and decodes any registered writer schema into the reader schema
 * this process was built with (Avro schema resolution), so consumers keep
 * reading old events after the schema evolves.
 */
export class AvroEventCodec {
  private readonly writers = new Map<string, WriterEntry>(); // key: aggregateType/eventType
  private readonly readers = new Map<string, { type: avro.Type; eventType: string }>(); // key: record full name
  private readonly resolvers = new Map<number, { resolver: avro.Resolver; reader: avro.Type; eventType: string }>();
  private readonly pendingWriterSchemas = new Map<number, Promise<avro.Type>>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly catalogs: readonly EventCatalog[],
    private readonly topicPattern: string,
  ) {
    for (const catalog of catalogs) {
      for (const [eventType, schema] of Object.entries<RecordSchema>(catalog.schemas)) {
        this.readers.set(fullName(schema), { type: avro.Type.forSchema(schema as avro.Schema), eventType });
      }
    }
  }

  /** `registryUrl` may carry basic credentials as its user info (see registryEndpoint). */
  static connect(registryUrl: string, catalogs: readonly EventCatalog[], topicPattern: string): AvroEventCodec {
    const { url, auth } = registryEndpoint(registryUrl);
    return new AvroEventCodec(
      new SchemaRegistry({ host: url, retry: { retries: 3 }, ...(auth && { auth }) }),
      catalogs,
      topicPattern,
    );
  }

  /**
   * Registers every schema of every catalog under its subject. The registry
   * refuses a schema its compatibility rule rejects, so an incompatible
   * change stops the writer at start-up rather than corrupting a topic.
   */
  registerAll(): Promise<Map<string, number>> {
    return this.resolveAll('register');
  }

  /**
   * Looks up the id of every schema of every catalog under its subject without
   * registering anything (for writers that may only read the registry: the
   * schemas are registered by the release step, `sluice schemas register`).
   * A schema the registry does not hold is schema_not_found, not retried.
   */
  lookupAll(): Promise<Map<string, number>> {
    return this.resolveAll('lookup');
  }

  private async resolveAll(mode: 'register' | 'lookup'): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    for (const catalog of this.catalogs) {
      const topic = routeTopic(this.topicPattern, catalog.aggregateType);
      for (const [eventType, schema] of Object.entries<RecordSchema>(catalog.schemas)) {
        const subject = subjectFor(topic, fullName(schema));
        const confluent = { type: SchemaType.AVRO, schema: JSON.stringify(schema) } as const;
        // A registry that just lost its database (a PostgreSQL restart) fails a few requests while
        // its pool replaces the dead connections: tried again with backoff. A refusal (4xx, such as
        // an incompatible schema) is final.
        const schemaId = await retry(
          async () => {
            try {
              if (mode === 'lookup') return await this.registry.getRegistryIdBySchema(subject, confluent);
              const registered = await this.registry.register(confluent, {
                subject,
                compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE,
              });
              return registered.id;
            } catch (cause) {
              const status = (cause as { status?: unknown }).status;
              // The client turns the lookup's 404 into a bare ConfluentSchemaRegistryError (no status).
              const notFound = status === 404 || Object.getPrototypeOf(cause) === ConfluentSchemaRegistryError.prototype;
              if (mode === 'lookup' && notFound) {
                throw new CodecError(
                  'schema_not_found',
                  `the registry holds no schema ${fullName(schema)} under ${subject}; register the schemas first (sluice schemas register)`,
                  { cause, retriable: false },
                );
              }
              throw new CodecError(
                'registry_unavailable',
                `${mode === 'lookup' ? 'looking up' : 'registering'} ${subject} failed: ${String(cause)}`,
                {
                  cause,
                  retriable: !(typeof status === 'number' && status >= 400 && status < 500),
                },
              );
            }
          },
          { retries: 5, baseMs: 200, maxMs: 2_000 },
        );
        this.writers.set(`${catalog.aggregateType}/${eventType}`, {
          type: avro.Type.forSchema(schema as avro.Schema),
          schemaId,
          subject,
        });
        ids.set(subject, schemaId);
      }
    }
    return ids;
  }

  /** Validates the event against its schema and frames it; throws schema_violation with the bad paths. */
  encode(aggregateType: string, event: { type: string; data: unknown }): Buffer {
    const writer = this.writers.get(`${aggregateType}/${event.type}`);
    if (!writer) {
      throw new CodecError(
        'unknown_event_type',
        `no registered schema for ${aggregateType}/${event.type}; call registerAll() at start-up`,
      );
    }
    const bad: string[] = [];
    if (!writer.type.isValid(event.data, { errorHook: (path) => bad.push(path.join('.') || '(root)') })) {
      throw new CodecError('schema_violation', `${event.type} does not match its schema at: ${bad.join(', ')}`, {
        details: { paths: bad },
      });
    }
    return frame(writer.schemaId, writer.type.toBuffer(event.data));
  }

  schemaIdOf(aggregateType: string, eventType: string): number | undefined {
    return this.writers.get(`${aggregateType}/${eventType}`)?.schemaId;
  }

  /** Decodes a framed value written with any registered schema into this process's reader schema. */
  async decode(value: Buffer): Promise<DecodedEvent> {
    const { schemaId, payload } = unframe(value);
    let entry = this.resolvers.get(schemaId);
    if (!entry) {
      const writer = await this.writerSchema(schemaId);
      const name = writer.name;
      const reader = name === undefined ? undefined : this.readers.get(name);
      if (!reader) {
        throw new CodecError(
          'unknown_event_type',
          `schema ${schemaId} (${name ?? 'unnamed'}) is not an event this consumer knows`,
        );
      }
      entry = { resolver: reader.type.createResolver(writer), reader: reader.type, eventType: reader.eventType };
      this.resolvers.set(schemaId, entry);
    }
    try {
      return { type: entry.eventType, data: entry.reader.fromBuffer(payload, entry.resolver, true), schemaId };
    } catch (cause) {
      throw new CodecError('schema_violation', `value does not decode with schema ${schemaId}: ${String(cause)}`, { cause });
    }
  }

  private writerSchema(schemaId: number): Promise<avro.Type> {
    let pending = this.pendingWriterSchemas.get(schemaId);
    if (!pending) {
      pending = this.registry.getSchema(schemaId).then(
        (schema) => schema as unknown as avro.Type,
        (cause: unknown) => {
          this.pendingWriterSchemas.delete(schemaId);
          const status = (cause as { status?: number }).status;
          throw status === 404
            ? new CodecError('schema_not_found', `schema id ${schemaId} is not in the registry`, { cause })
            : new CodecError('registry_unavailable', `fetching schema ${schemaId} failed: ${String(cause)}`, {
                cause,
                retriable: true,
              });
        },
      );
      this.pendingWriterSchemas.set(schemaId, pending);
    }
    return pending;
  }
}
