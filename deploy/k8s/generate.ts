import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { z } from '@sluice/config';
import type { TopicSpec } from '@sluice/messaging';
import {
  aclNamesEnv,
  aclPlan,
  COMMAND_ISSUER_TYPES,
  OWNER_ROLE,
  platformKafkaNames,
  SERVICE_ROLES,
  type Grant,
} from '@sluice/platform';
/* eslint-disable @nx/enforce-module-boundaries -- deployment tooling renders the topics the services
   create from the services' own code and configuration defaults, which are application code */
import { eventTopics } from '../../services/cli/src/topics';
import { commandApiConfig } from '../../services/command-api/src/config';
import { projectorConfig } from '../../services/projector/src/config';
/* eslint-enable @nx/enforce-module-boundaries */
import { renderEdgeYaml } from './edge-manifest';

/**
 * The manifests of deploy/k8s/base that are derived from code, so they cannot drift from it:
 *   kafka-topics.yaml      the topics `sluice topics apply` and the services create (KafkaTopic)
 *   kafka-users.yaml       the principals and ACLs of `sluice acls apply` (KafkaUser)
 *   prometheus-rules.yaml  deploy/prometheus/rules as PrometheusRules
 *   edge.yaml              the edge proxy (edge-manifest.ts)
 * and components/external-secrets/external-secrets.yaml, the Secrets of staging and prod
 * (ExternalSecret), one per database role of libs/platform plus the webhook secret and command keys.
 * kustomize reads nothing outside its root, hence files rather than references.
 *   npx tsx deploy/k8s/generate.ts     (then prettier); a unit test fails when they disagree.
 */
/** deploy/k8s in the source tree, also when run from the build (dist/deploy/k8s holds copies). */
export const K8S_DIR = __dirname.replace(/([/\\])dist([/\\]deploy[/\\]k8s)$/, '$2');
const REPO = join(K8S_DIR, '../..');
const KAFKA_CLUSTER = 'sluice';
/** Every partition on three brokers; a write is acknowledged once two have it (acks=all). */
const REPLICAS = 3;
const MIN_INSYNC_REPLICAS = 2;
/** What the release used to pass `sluice topics apply` (TOPIC_PARTITIONS). */
const EVENT_TOPIC_PARTITIONS = 12;
/** The principal KEDA reads consumer lag as: describe only. */
const KEDA_USER = 'sluice-keda';
/** The release Job's principal, a super user of the cluster (kafka.yaml). */
const ADMIN_USER = 'sluice-admin';

type Doc = Record<string, unknown>;

function outboxTopicPattern(): string {
  const config = parseAllDocuments(readFileSync(join(K8S_DIR, 'base/config.yaml'), 'utf8'))
    .map((d) => d.toJSON() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> })
    .find((d) => d.kind === 'ConfigMap' && d.metadata?.name === 'sluice-config');
  const pattern = config?.data?.OUTBOX_TOPIC_PATTERN;
  if (!pattern) throw new Error('deploy/k8s/base/config.yaml: the sluice-config ConfigMap names no OUTBOX_TOPIC_PATTERN');
  return pattern;
}

/** A Kubernetes name for a topic (KafkaTopic names are DNS subdomains; spec.topicName keeps the real one). */
export function topicResourceName(topic: string): string {
  return topic.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
}

/** The topics the platform uses, each as the service that creates it would (same partitions, retention). */
export function platformTopics(pattern: string): TopicSpec[] {
  const names = platformKafkaNames(pattern, z.object(aclNamesEnv).parse({}));
  const commandPartitions = commandApiConfig.shape.WALLET_COMMANDS_PARTITIONS.parse(undefined);
  const projectorDlqPartitions = projectorConfig.shape.PROJECTOR_DLQ_PARTITIONS.parse(undefined);
  return [
    ...eventTopics(pattern, EVENT_TOPIC_PARTITIONS),
    { topic: names.commandTopic, partitions: commandPartitions },
    { topic: names.commandDlqTopic, partitions: 1, retainForever: true },
    { topic: names.projectorDlqTopic, partitions: projectorDlqPartitions, retainForever: true },
    { topic: names.paymentsDlqTopic, partitions: 1, retainForever: true },
    { topic: names.bonusDlqTopic, partitions: 1, retainForever: true },
  ];
}

export function kafkaTopics(pattern: string): Doc[] {
  return platformTopics(pattern).map((t) => ({
    apiVersion: 'kafka.strimzi.io/v1beta2',
    kind: 'KafkaTopic',
    metadata: { name: topicResourceName(t.topic), labels: { 'strimzi.io/cluster': KAFKA_CLUSTER } },
    spec: {
      topicName: t.topic,
      partitions: t.partitions,
      replicas: REPLICAS,
      config: {
        'min.insync.replicas': MIN_INSYNC_REPLICAS,
        ...(t.retainForever ? { 'retention.ms': -1, 'retention.bytes': -1 } : {}),
        ...t.config,
      },
    },
  }));
}

const OPERATION = {
  READ: 'Read',
  WRITE: 'Write',
  CREATE: 'Create',
  DESCRIBE: 'Describe',
  DESCRIBE_CONFIGS: 'DescribeConfigs',
} as const;

interface Acl {
  resource: { type: 'topic' | 'group'; name: string; patternType: 'literal' | 'prefix' };
  operations: string[];
}

/** Grants on the same resource become one ACL rule with their operations, in the plan's order. */
function aclRules(grants: readonly Grant[]): Acl[] {
  const rules = new Map<string, Acl>();
  for (const g of grants) {
    const key = `${g.resource}\0${g.name}\0${String(g.prefixed)}`;
    const rule = rules.get(key) ?? {
      resource: { type: g.resource, name: g.name, patternType: g.prefixed ? ('prefix' as const) : ('literal' as const) },
      operations: [],
    };
    rule.operations.push(OPERATION[g.operation]);
    rules.set(key, rule);
  }
  return [...rules.values()];
}

function kafkaUser(name: string, acls: Acl[] | undefined): Doc {
  return {
    apiVersion: 'kafka.strimzi.io/v1beta2',
    kind: 'KafkaUser',
    metadata: { name, labels: { 'strimzi.io/cluster': KAFKA_CLUSTER } },
    spec: {
      authentication: { type: 'scram-sha-512' },
      ...(acls && { authorization: { type: 'simple', acls } }),
    },
  };
}

/**
 * One SCRAM user per service with exactly the grants of `sluice acls apply` (libs/platform's
 * aclPlan), the observer's read-only access, KEDA's describe-only user and the administrator.
 * The User Operator writes each user's password to a Secret of the user's name (key `password`).
 */
export function kafkaUsers(pattern: string): Doc[] {
  const names = platformKafkaNames(pattern, z.object(aclNamesEnv).parse({}));
  const grants = aclPlan(names);
  const byPrincipal = new Map<string, Grant[]>();
  for (const g of grants) byPrincipal.set(g.principal, [...(byPrincipal.get(g.principal) ?? []), g]);
  const users = [...byPrincipal].map(([principal, own]) => kafkaUser(principal.replace(/^User:/, ''), aclRules(own)));
  const keda: Acl[] = [
    { resource: { type: 'topic', name: names.walletEventTopic, patternType: 'literal' }, operations: ['Describe'] },
    { resource: { type: 'group', name: names.projectorGroup, patternType: 'literal' }, operations: ['Describe'] },
    { resource: { type: 'group', name: names.paymentsGroup, patternType: 'literal' }, operations: ['Describe'] },
  ];
  return [...users, kafkaUser(KEDA_USER, keda), kafkaUser(ADMIN_USER, undefined)];
}

/** deploy/prometheus/rules, one PrometheusRule per file, the groups as they are. */
export function prometheusRules(): Doc[] {
  const dir = join(REPO, 'deploy/prometheus/rules');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => ({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: `sluice-${basename(f, '.yml')}` },
      spec: { groups: (parse(readFileSync(join(dir, f), 'utf8')) as { groups: unknown[] }).groups },
    }));
}

/** The services that reach PostgreSQL through the pooler (postgres.yaml); the rest connect directly. */
export const POOLED_SERVICES: readonly string[] = ['command-api', 'query-api'];
const SECRET_STORE = { kind: 'ClusterSecretStore', name: 'sluice' };

/** Every database role: the Secret that holds its credentials, and which host its DATABASE_URL names. */
export function databaseRoleSecrets(): { secret: string; role: string; host: string }[] {
  return [
    { secret: 'sluice-db-role-owner', role: OWNER_ROLE.name, host: 'sluice-db-rw' },
    ...Object.entries(SERVICE_ROLES).map(([service, role]) => ({
      secret: `sluice-db-role-${service}`,
      role: role.name,
      host: POOLED_SERVICES.includes(service) ? 'sluice-db-pooler-rw' : 'sluice-db-rw',
    })),
  ];
}

function externalSecret(name: string, template: Doc, data: { secretKey: string; key: string; property: string }[]): Doc {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: SECRET_STORE,
      target: { name, creationPolicy: 'Owner', template: { engineVersion: 'v2', ...template } },
      data: data.map((d) => ({ secretKey: d.secretKey, remoteRef: { key: d.key, property: d.property } })),
    },
  };
}

/**
 * Staging's and prod's Secrets, from the store each cluster's ClusterSecretStore `sluice` reads
 * (one store per environment, so the same keys name each environment's own values). A role's
 * Secret is what CloudNativePG sets the role's password from (basic-auth) and where its service
 * reads DATABASE_URL: one password, in one place. Passwords must be URL-safe.
 */
export function externalSecrets(): Doc[] {
  const roles = databaseRoleSecrets().map(({ secret, role, host }) =>
    externalSecret(
      secret,
      {
        type: 'kubernetes.io/basic-auth',
        data: {
          username: role,
          password: '{{ .password }}',
          DATABASE_URL: `postgres://${role}:{{ .password }}@${host}:5432/sluice?sslmode=verify-full`,
        },
      },
      [{ secretKey: 'password', key: `sluice/postgres/${role}`, property: 'password' }],
    ),
  );
  const issuers = Object.keys(COMMAND_ISSUER_TYPES);
  return [
    ...roles,
    externalSecret('sluice-psp', { type: 'Opaque' }, [
      { secretKey: 'PSP_WEBHOOK_SECRET', key: 'sluice/psp', property: 'webhook-secret' },
    ]),
    externalSecret('sluice-command-keys', { type: 'Opaque' }, [
      { secretKey: 'command-issuers.json', key: 'sluice/command-keys', property: 'command-issuers.json' },
      ...issuers.map((i) => ({ secretKey: `${i}.key.pem`, key: 'sluice/command-keys', property: `${i}.key.pem` })),
    ]),
  ];
}

const HEADER = (what: string) =>
  `# Generated by deploy/k8s/generate.ts from ${what}: edit that, then run npx tsx deploy/k8s/generate.ts.\n`;
const yamlOf = (docs: Doc[]) => docs.map((d) => stringify(d)).join('---\n');

/** Each generated file of the base, by its name, with the text it should hold. */
export function generatedFiles(): Record<string, string> {
  const pattern = outboxTopicPattern();
  return {
    'kafka-topics.yaml': HEADER('services/cli topics and the services’ topic settings') + yamlOf(kafkaTopics(pattern)),
    'kafka-users.yaml': HEADER('libs/platform/src/kafka-acls.ts (sluice acls apply)') + yamlOf(kafkaUsers(pattern)),
    'prometheus-rules.yaml': HEADER('deploy/prometheus/rules') + yamlOf(prometheusRules()),
    'edge.yaml': renderEdgeYaml(),
    '../components/external-secrets/external-secrets.yaml':
      HEADER('libs/platform/src/database-roles.ts and command-keys.ts') + yamlOf(externalSecrets()),
  };
}

if (require.main === module) {
  for (const [name, text] of Object.entries(generatedFiles())) {
    const file = join(K8S_DIR, 'base', name);
    writeFileSync(file, text);
    process.stdout.write(`${file}\n`);
  }
}
