import { commandKeysEnv, type CommandKeys } from './command-keys';
import { databaseUrlAs, SERVICE_ROLES } from './database-roles';
import { PLATFORM_SERVICES, REPLICA_PORT_STEP, type PlatformService } from './services';

/**
 * What keeps one running platform apart from another on the same Kafka,
 * registry and PostgreSQL: its database, the names of its topics, consumer
 * groups, replication slot and publication, and its ports. `make up` runs
 * without one (every service's defaults); the platform benchmark runs with
 * its own, beside it.
 */
export interface PlatformNamespace {
  /** Every service's DATABASE_URL (the platform keeps its tables in one database). */
  databaseUrl: string;
  /** Prefixes every topic and group name, and names the slot and publication: [a-z0-9_]. */
  id: string;
  /** Added to every service's port. */
  portOffset: number;
}

/** One process of the platform: a replica of a service, with the environment it starts with. */
export interface PlatformProcess {
  /** The service's name for replica 0, `<name>-<i+1>` for replica i (command-api-2). */
  name: string;
  service: PlatformService;
  replica: number;
  port: number;
  /** Set on top of the environment the process inherits; every other setting is the service's default. */
  env: Record<string, string>;
}

export const MAX_REPLICAS = 9;

/** SLUICE_REPLICAS or --replicas: processes of each scalable service (1 when unset). */
export function parseReplicas(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) throw new RangeError(`replicas must be 1..${MAX_REPLICAS}, got ${raw}`);
  return n;
}

/** The names a namespace gives; a service reads the ones it needs and ignores the rest. */
export function namespaceEnv(ns: PlatformNamespace): Record<string, string> {
  if (!/^[a-z][a-z0-9_]{0,39}$/.test(ns.id)) throw new RangeError(`namespace id ${ns.id} is not [a-z][a-z0-9_]{0,39}`);
  return {
    DATABASE_URL: ns.databaseUrl,
    OUTBOX_TOPIC_PATTERN: `${ns.id}.outbox.event.\${routedByValue}`,
    OUTBOX_SLOT_NAME: `${ns.id}_outbox`,
    OUTBOX_PUBLICATION_NAME: `${ns.id}_outbox`,
    PROJECTOR_GROUP_ID: `${ns.id}.sluice-projector-wallet`,
    WALLET_COMMANDS_TOPIC: `${ns.id}.sluice.wallet.commands`,
    WALLET_COMMANDS_DLQ_TOPIC: `${ns.id}.sluice.wallet.commands.dlq`,
    WALLET_COMMANDS_GROUP_ID: `${ns.id}.sluice-command-api`,
    BONUS_GROUP_ID: `${ns.id}.sluice-bonus-service`,
    PAYMENTS_GROUP_ID: `${ns.id}.sluice-payments-worker`,
  };
}

/**
 * Services that connect with their own database role (`make up`): the
 * database's objects exist already (sluice migrate ran as the owner), so no
 * service migrates or creates the slot at start.
 */
export interface DatabaseRoleSettings {
  /** The platform's database; each service connects to it as its role (SERVICE_ROLES). */
  databaseUrl: string;
}

function roleEnv(service: string, settings: DatabaseRoleSettings): Record<string, string> {
  const role = (SERVICE_ROLES as Record<string, { name: string } | undefined>)[service];
  if (!role) return {};
  return { DATABASE_URL: databaseUrlAs(settings.databaseUrl, role.name), MIGRATE_ON_START: 'false', OUTBOX_ENSURE_SLOT: 'false' };
}

/**
 * The processes of the platform in start order: `replicas` of each scalable
 * service (replica i on port + 100·i), the PSP simulator once. Services that
 * call one another are pointed at each other's ports: the payments worker at
 * the PSP simulator, the simulator's webhooks at the first payments worker
 * (the saga lives in the database, so any replica takes them). With
 * `commandKeys`, the command senders get their signing keys and the command
 * API the issuers file. `auth` is the access-token issuer every process is
 * told to trust (devAuthEnv locally). `kafka` gives a service its own Kafka
 * principal's settings (localKafkaCredentials locally; none for services
 * without Kafka).
 */
export function platformProcesses(
  options: {
    replicas?: number;
    namespace?: PlatformNamespace;
    roles?: DatabaseRoleSettings;
    commandKeys?: CommandKeys;
    auth?: Record<string, string>;
    kafka?: (service: string) => Record<string, string> | undefined;
  } = {},
): PlatformProcess[] {
  const replicas = options.replicas ?? 1;
  parseReplicas(String(replicas));
  const offset = options.namespace?.portOffset ?? 0;
  // The local platform (make up, the platform benchmark) is local development: trust-auth PostgreSQL
  // roles without passwords, generated keys and credentials under the run directory.
  const shared = { SLUICE_ENV: 'development', ...(options.namespace ? namespaceEnv(options.namespace) : {}) };
  const portOf = (name: string) => offset + PLATFORM_SERVICES.find((s) => s.name === name)!.port;
  const links = {
    PSP_URL: `http://127.0.0.1:${portOf('psp-simulator')}`,
    PSP_WEBHOOK_URL: `http://127.0.0.1:${portOf('payments-worker')}/v1/psp/webhooks`,
  };
  const out: PlatformProcess[] = [];
  for (const service of PLATFORM_SERVICES) {
    for (let replica = 0; replica < (service.scalable ? replicas : 1); replica++) {
      const port = offset + service.port + REPLICA_PORT_STEP * replica;
      out.push({
        name: replica === 0 ? service.name : `${service.name}-${replica + 1}`,
        service,
        replica,
        port,
        env: {
          ...options.kafka?.(service.name),
          ...shared,
          ...options.auth,
          ...links,
          ...(options.roles && roleEnv(service.name, options.roles)),
          ...(options.commandKeys && commandKeysEnv(options.commandKeys, service.name)),
          PORT: String(port),
        },
      });
    }
  }
  return out;
}
