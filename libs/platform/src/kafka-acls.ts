import {
  AclOperationTypes,
  type AclFilter,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
  type AclEntry,
  type Kafka,
} from 'kafkajs';
import { z } from '@sluice/config';
import { deadLetterTopic, routeTopic } from '@sluice/messaging';
import { walletCatalog } from '@sluice/schemas';

const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/);

/**
 * The topic and group names the services run with, under the same variables and
 * defaults as their own configs, so `sluice acls apply` grants exactly what they use.
 */
export const aclNamesEnv = {
  WALLET_COMMANDS_TOPIC: kafkaName.default('sluice.wallet.commands'),
  WALLET_COMMANDS_DLQ_TOPIC: kafkaName.default('sluice.wallet.commands.dlq'),
  WALLET_COMMANDS_GROUP_ID: kafkaName.default('sluice-command-api'),
  PROJECTOR_GROUP_ID: kafkaName.default('sluice-projector-wallet'),
  PROJECTOR_DLQ_TOPIC: kafkaName.optional(),
  PAYMENTS_GROUP_ID: kafkaName.default('sluice-payments-worker'),
  PAYMENTS_DLQ_TOPIC: kafkaName.optional(),
  BONUS_GROUP_ID: kafkaName.default('sluice-bonus-service'),
  BONUS_DLQ_TOPIC: kafkaName.optional(),
  /** Consumer groups whose names start with this belong to the read-only observer. */
  OBSERVER_GROUP_PREFIX: kafkaName.default('sluice-observer'),
  /** Principals are User:<prefix><service> (the SCRAM users of deploy/local/kafka.sh). */
  KAFKA_PRINCIPAL_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/)
    .default('sluice-'),
};

export interface PlatformKafkaNames {
  /** Every event topic starts with this (OUTBOX_TOPIC_PATTERN up to ${routedByValue}). */
  eventTopicPrefix: string;
  /** The wallet event topic, the one the consumers read. */
  walletEventTopic: string;
  commandTopic: string;
  commandDlqTopic: string;
  commandApiGroup: string;
  projectorGroup: string;
  projectorDlqTopic: string;
  paymentsGroup: string;
  paymentsDlqTopic: string;
  bonusGroup: string;
  bonusDlqTopic: string;
  observerGroupPrefix: string;
  principalPrefix: string;
}

export function platformKafkaNames(outboxTopicPattern: string, c: z.infer<z.ZodObject<typeof aclNamesEnv>>): PlatformKafkaNames {
  const at = outboxTopicPattern.indexOf('${routedByValue}');
  const eventTopicPrefix = at < 0 ? outboxTopicPattern : outboxTopicPattern.slice(0, at);
  if (eventTopicPrefix === '')
    throw new RangeError('OUTBOX_TOPIC_PATTERN must start with a fixed prefix to grant the relay its topics');
  return {
    eventTopicPrefix,
    walletEventTopic: routeTopic(outboxTopicPattern, walletCatalog.aggregateType),
    commandTopic: c.WALLET_COMMANDS_TOPIC,
    commandDlqTopic: c.WALLET_COMMANDS_DLQ_TOPIC,
    commandApiGroup: c.WALLET_COMMANDS_GROUP_ID,
    projectorGroup: c.PROJECTOR_GROUP_ID,
    projectorDlqTopic: c.PROJECTOR_DLQ_TOPIC ?? deadLetterTopic(c.PROJECTOR_GROUP_ID),
    paymentsGroup: c.PAYMENTS_GROUP_ID,
    paymentsDlqTopic: c.PAYMENTS_DLQ_TOPIC ?? deadLetterTopic(c.PAYMENTS_GROUP_ID),
    bonusGroup: c.BONUS_GROUP_ID,
    bonusDlqTopic: c.BONUS_DLQ_TOPIC ?? deadLetterTopic(c.BONUS_GROUP_ID),
    observerGroupPrefix: c.OBSERVER_GROUP_PREFIX,
    principalPrefix: c.KAFKA_PRINCIPAL_PREFIX,
  };
}

type Operation = 'READ' | 'WRITE' | 'CREATE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS';

/** One grant: principal may do operation on the topic or group named (or every name starting with it, when prefixed). */
export interface Grant {
  principal: string;
  resource: 'topic' | 'group';
  name: string;
  prefixed: boolean;
  operation: Operation;
}

/**
 * Least privilege per service. READ and WRITE imply DESCRIBE (metadata, offsets).
 * CREATE is granted on the exact topics a service creates when they are missing
 * (its own dead-letter topic, the command topics for the command API, the wallet
 * event topic for its consumers), never on a prefix. Administration (topics apply,
 * dead-letter re-drive, projection tools) is the super user's.
 */
export function aclPlan(n: PlatformKafkaNames): Grant[] {
  const user = (service: string) => `User:${n.principalPrefix}${service}`;
  const topic = (principal: string, name: string, ...ops: Operation[]): Grant[] =>
    ops.map((operation) => ({ principal, resource: 'topic', name, prefixed: false, operation }));
  const group = (principal: string, name: string, prefixed = false): Grant => ({
    principal,
    resource: 'group',
    name,
    prefixed,
    operation: 'READ',
  });
  const relay = user('outbox-relay');
  const commandApi = user('command-api');
  const projector = user('projector');
  const payments = user('payments-worker');
  const bonus = user('bonus-service');
  const observer = user('observer');
  return [
    { principal: relay, resource: 'topic', name: n.eventTopicPrefix, prefixed: true, operation: 'WRITE' },

    // DESCRIBE_CONFIGS: at start-up it reads the topic's retention.ms, which its inbox window must outlast.
    ...topic(commandApi, n.commandTopic, 'READ', 'CREATE', 'DESCRIBE_CONFIGS'),
    ...topic(commandApi, n.commandDlqTopic, 'WRITE', 'CREATE'),
    group(commandApi, n.commandApiGroup),

    ...topic(projector, n.walletEventTopic, 'READ', 'CREATE'),
    ...topic(projector, n.projectorDlqTopic, 'WRITE', 'CREATE'),
    group(projector, n.projectorGroup),

    ...topic(payments, n.walletEventTopic, 'READ', 'CREATE'),
    ...topic(payments, n.commandTopic, 'WRITE', 'CREATE'),
    ...topic(payments, n.paymentsDlqTopic, 'WRITE', 'CREATE'),
    group(payments, n.paymentsGroup),

    ...topic(bonus, n.walletEventTopic, 'READ'),
    ...topic(bonus, n.commandTopic, 'WRITE'),
    ...topic(bonus, n.bonusDlqTopic, 'WRITE', 'CREATE'),
    group(bonus, n.bonusGroup),

    { principal: observer, resource: 'topic', name: '*', prefixed: false, operation: 'READ' },
    { principal: observer, resource: 'topic', name: '*', prefixed: false, operation: 'DESCRIBE' },
    group(observer, n.observerGroupPrefix, true),
  ];
}

const OPERATIONS: Record<Operation, AclOperationTypes> = {
  READ: AclOperationTypes.READ,
  WRITE: AclOperationTypes.WRITE,
  CREATE: AclOperationTypes.CREATE,
  DESCRIBE: AclOperationTypes.DESCRIBE,
  DESCRIBE_CONFIGS: AclOperationTypes.DESCRIBE_CONFIGS,
};

export function toAclEntry(g: Grant): AclEntry {
  return {
    resourceType: g.resource === 'topic' ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
    resourceName: g.name,
    resourcePatternType: g.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: g.principal,
    host: '*',
    operation: OPERATIONS[g.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

export function describeGrant(g: Grant): string {
  return `${g.principal}\t${g.operation}\t${g.resource} ${g.name}${g.prefixed ? '*' : ''}`;
}

/** Adds the grants (the broker keeps one binding per grant; applying twice changes nothing). Needs an admin principal. */
export async function applyAcls(kafka: Kafka, grants: readonly Grant[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createAcls({ acl: grants.map(toAclEntry) });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Removes every binding on the resources the grants name (a namespace's, when a
 * benchmark or test is done with it), whoever holds it. The wildcard resource is
 * never touched. Needs an admin principal.
 */
export async function removeAcls(kafka: Kafka, grants: readonly Grant[]): Promise<void> {
  const filters: AclFilter[] = [...new Set(grants.map((g) => g.name))]
    .filter((name) => name !== '*')
    .map((resourceName) => ({
      resourceType: AclResourceTypes.ANY,
      resourceName,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    }));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteAcls({ filters });
  } finally {
    await admin.disconnect();
  }
}
