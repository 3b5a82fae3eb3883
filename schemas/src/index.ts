export * from './generated';
export { checkCompatibility, readProblems, type Incompatibility } from './compatibility';
import { walletCommandsSchemas, walletSchemas, type WalletEvent } from './generated';

/** An Avro record schema as it stands in an .avsc file. */
export interface RecordSchema {
  readonly type: 'record';
  readonly name: string;
  readonly namespace?: string;
  readonly fields: readonly unknown[];
}

/**
 * The events of one aggregate type: the aggregate type routes them to their
 * topic (the outbox `aggregatetype` column), the schemas encode them.
 */
export interface EventCatalog<E extends { type: string; data: unknown } = { type: string; data: unknown }> {
  readonly aggregateType: string;
  readonly schemas: { readonly [K in E['type']]: RecordSchema };
}

export const walletCatalog: EventCatalog<WalletEvent> = { aggregateType: 'wallet', schemas: walletSchemas };

export function fullName(schema: RecordSchema): string {
  return schema.namespace ? `${schema.namespace}.${schema.name}` : schema.name;
}

/** Every aggregate type's events; one topic each. */
export const allCatalogs: readonly EventCatalog[] = [walletCatalog];

/**
 * The wallet's internal commands (the command topic, sent by the payments
 * worker and the bonus service, handled by the command API). Not an outbox
 * aggregate: the topic is the services' configuration (WALLET_COMMANDS_TOPIC),
 * not routed by aggregate type, so it is kept out of allCatalogs.
 */
export const walletCommandsCatalog: EventCatalog = { aggregateType: 'wallet-commands', schemas: walletCommandsSchemas };
