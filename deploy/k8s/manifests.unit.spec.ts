import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z, type z as Z } from '@sluice/config';
import { aclNamesEnv, aclPlan, DATABASE_ROLES, platformKafkaNames, SERVICE_ROLES } from '@sluice/platform';
/* eslint-disable @nx/enforce-module-boundaries -- deployment tooling checks the manifests against the
   services' own configuration schemas, which are application code, not libraries */
import { bonusServiceConfig } from '../../services/bonus-service/src/config';
import { commandApiConfig } from '../../services/command-api/src/config';
import { relayConfig } from '../../services/outbox-relay/src/config';
import { paymentsWorkerConfig } from '../../services/payments-worker/src/config';
import { projectorConfig } from '../../services/projector/src/config';
import { pspSimulatorConfig } from '../../services/psp-simulator/src/config';
import { queryApiConfig } from '../../services/query-api/src/config';
/* eslint-enable @nx/enforce-module-boundaries */
import { LOCAL_SERVICES } from '../local/services';
import { edgeManifests, K8S_EDGE_OPTIONS } from './edge-manifest';
import { generatedFiles, platformTopics, POOLED_SERVICES } from './generate';
import { kustomize, OVERLAYS, type K8sObject, type Overlay } from './validate';
import type { Container, PodSpec } from './validate/model';
import { copyOfK8s, K8S_DIR } from './validate/test-support';

/** What each overlay renders to, once for the whole file (the validator's own tests break copies). */
const rendered = {} as Record<Overlay, K8sObject[]>;
beforeAll(() => {
  const copy = copyOfK8s();
  try {
    for (const overlay of OVERLAYS) rendered[overlay] = kustomize(join(copy.dir, 'overlays', overlay));
  } finally {
    copy.remove();
  }
}, 60_000);

const find = (overlay: Overlay, kind: string, name: string): K8sObject => {
  const o = rendered[overlay].find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${overlay} renders no ${kind}/${name}`);
  return o;
};
const podOf = (overlay: Overlay, kind: string, name: string) =>
  (find(overlay, kind, name).spec as { template: { spec: PodSpec } }).template.spec;
const containerOf = (overlay: Overlay, name: string): Container => podOf(overlay, 'Deployment', name).containers[0]!;

/** A container's environment as the kubelet would give it, from the render's ConfigMaps and Secrets. */
function environmentOf(overlay: Overlay, container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  const secret = (name: string): Record<string, string> => {
    const s = find(overlay, 'Secret', name);
    const data = (s.data ?? {}) as Record<string, string>;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  for (const e of container.envFrom ?? []) {
    if (e.configMapRef) Object.assign(env, find(overlay, 'ConfigMap', e.configMapRef.name).data);
    if (e.secretRef) Object.assign(env, secret(e.secretRef.name));
  }
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    env[e.name] = ref ? secret(ref.name)[ref.key]! : (e.value ?? '');
  }
  return env;
}

const SCHEMAS: Record<string, Z.ZodObject> = {
  'command-api': commandApiConfig,
  'query-api': queryApiConfig,
  'outbox-relay': relayConfig,
  projector: projectorConfig,
  'bonus-service': bonusServiceConfig,
  'psp-simulator': pspSimulatorConfig,
  'payments-worker': paymentsWorkerConfig,
};
const names = (overlay: Overlay, kind: string) =>
  rendered[overlay]
    .filter((o) => o.kind === kind)
    .map((o) => o.metadata.name)
    .sort();

describe('what each overlay deploys', () => {
  const services = LOCAL_SERVICES.map((s) => s.name);

  it.each(['dev', 'staging'] as const)(
    '%s: every service the local platform runs, the simulator among them, and the edge',
    (overlay) => {
      expect(names(overlay, 'Deployment')).toEqual([...services, 'edge'].sort());
    },
  );

  it('prod: every service but the payment provider simulator, with PSP_URL at the real provider', () => {
    expect(names('prod', 'Deployment')).toEqual([...services.filter((s) => s !== 'psp-simulator'), 'edge'].sort());
    expect(containerOf('prod', 'payments-worker').env?.find((e) => e.name === 'PSP_URL')?.value).toMatch(/^https:\/\//);
    expect(containerOf('staging', 'payments-worker').env?.find((e) => e.name === 'PSP_URL')?.value).toBe(
      'http://psp-simulator:3002',
    );
  });

  it('staging and prod take every Secret from ExternalSecret; dev generates them', () => {
    expect(names('prod', 'Secret')).toEqual([]);
    expect(names('staging', 'Secret')).toEqual([]);
    expect(names('prod', 'ExternalSecret')).toEqual(names('dev', 'Secret'));
  });

  it.each(LOCAL_SERVICES.map((s) => [s.name, s.port] as const))('%s: entry point, port and probes', (name, port) => {
    const container = containerOf('dev', name);
    expect(container.args).toEqual([`dist/services/${name}/src/main.js`]);
    expect(container.ports?.[0]).toEqual({ name: 'http', containerPort: port });
    // /metrics on a port of its own, the one METRICS_PORT in sluice-config names (the validator checks they agree).
    expect(container.ports?.[1]).toEqual({ name: 'metrics', containerPort: 9464 });
    expect(environmentOf('dev', container).METRICS_PORT).toBe('9464');
    expect(container.env?.find((e) => e.name === 'PORT')?.value).toBe(String(port));
    expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
    expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
  });

  it.each(Object.keys(SCHEMAS))('%s: the configuration dev gives it passes its own start-up validation', (name) => {
    const container = containerOf('dev', name);
    const result = SCHEMAS[name]!.safeParse(environmentOf('dev', container));
    expect(result.error?.issues ?? []).toEqual([]);
    // Every key set explicitly on the container is one the service reads (no typo goes unnoticed).
    const known = Object.keys(SCHEMAS[name]!.shape);
    expect((container.env ?? []).map((e) => e.name).filter((k) => !known.includes(k))).toEqual([]);
  });
});

describe('PostgreSQL on Kubernetes (CloudNativePG)', () => {
  const cluster = () =>
    find('prod', 'Cluster', 'sluice-db').spec as {
      postgresql: { parameters: Record<string, string> };
      managed: { roles: { name: string; replication?: boolean; passwordSecret: { name: string } }[] };
    };

  it('decodes the WAL logically, for the outbox relay’s slot', () => {
    expect(cluster().postgresql.parameters.wal_level).toBe('logical');
  });

  it('manages the roles `sluice db roles` makes, replication only where libs/platform grants it', () => {
    expect(cluster().managed.roles.map((r) => ({ name: r.name, replication: r.replication ?? false }))).toEqual(
      DATABASE_ROLES.map((r) => ({ name: r.name, replication: r.replication ?? false })),
    );
  });

  it.each(Object.entries(SERVICE_ROLES))(
    '%s: connects as its own role, verifying the server, through the pooler only if it is an API',
    (service, role) => {
      const url = new URL(environmentOf('dev', containerOf('dev', service)).DATABASE_URL!);
      expect(url.username).toBe(role.name);
      expect(url.searchParams.get('sslmode')).toBe('verify-full');
      expect(url.hostname).toBe(POOLED_SERVICES.includes(service) ? 'sluice-db-pooler-rw' : 'sluice-db-rw');
    },
  );

  it('pools the APIs’ connections, never the relay’s (it streams the replication slot)', () => {
    expect(POOLED_SERVICES).toEqual(['command-api', 'query-api']);
    expect(find('prod', 'Pooler', 'sluice-db-pooler-rw').spec).toMatchObject({ cluster: { name: 'sluice-db' }, type: 'rw' });
  });

  it('migrates as the owner role and registers the schemas in the release Job, before the services', () => {
    const job = podOf('dev', 'Job', 'sluice-release');
    const [migrate] = job.initContainers!;
    expect(migrate!.args).toEqual(['dist/services/cli/src/main.js', 'migrate']);
    expect(new URL(environmentOf('dev', migrate!).DATABASE_URL!).username).toBe('sluice_owner');
    expect(job.containers[0]!.args).toEqual(['dist/services/cli/src/main.js', 'schemas', 'register']);
  });
});

describe('Kafka on Kubernetes (Strimzi)', () => {
  const KAFKA_SERVICES = ['command-api', 'outbox-relay', 'projector', 'bonus-service', 'payments-worker'];
  const configMap = () => find('prod', 'ConfigMap', 'sluice-config').data as Record<string, string>;

  it('runs KRaft on a node pool of three, with a TLS listener that takes SCRAM users', () => {
    const kafka = find('prod', 'Kafka', 'sluice');
    expect(kafka.metadata.annotations).toMatchObject({ 'strimzi.io/kraft': 'enabled', 'strimzi.io/node-pools': 'enabled' });
    expect((kafka.spec as { kafka: { listeners: unknown[] } }).kafka.listeners).toEqual([
      { name: 'tls', port: 9093, type: 'internal', tls: true, authentication: { type: 'scram-sha-512' } },
    ]);
    expect(find('prod', 'KafkaNodePool', 'dual-role').spec).toMatchObject({ replicas: 3, roles: ['controller', 'broker'] });
    expect(configMap()).toMatchObject({ KAFKA_BROKERS: 'sluice-kafka-bootstrap:9093', KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' });
  });

  it('has a KafkaTopic for every topic the services create, three replicas, two in sync', () => {
    const topics = rendered.prod
      .filter((o) => o.kind === 'KafkaTopic')
      .map((o) => o.spec as { topicName: string; partitions: number; replicas: number; config: Record<string, number> });
    const byName = (a: [string, number], b: [string, number]) => a[0].localeCompare(b[0]);
    expect(topics.map((t): [string, number] => [t.topicName, t.partitions]).sort(byName)).toEqual(
      platformTopics(configMap().OUTBOX_TOPIC_PATTERN!)
        .map((t): [string, number] => [t.topic, t.partitions])
        .sort(byName),
    );
    for (const t of topics) expect(t).toMatchObject({ replicas: 3, config: { 'min.insync.replicas': 2 } });
  });

  it('grants each KafkaUser exactly what `sluice acls apply` grants its principal', () => {
    const granted = rendered.prod
      .filter((o) => o.kind === 'KafkaUser')
      .flatMap((o) => {
        const acls = (
          o.spec as {
            authorization?: { acls: { resource: { type: string; name: string; patternType: string }; operations: string[] }[] };
          }
        ).authorization?.acls;
        return (acls ?? []).flatMap((a) =>
          a.operations.map(
            (op) =>
              `User:${o.metadata.name} ${op.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()} ${a.resource.type} ${a.resource.name}${a.resource.patternType === 'prefix' ? '*' : ''}`,
          ),
        );
      });
    const planned = aclPlan(platformKafkaNames(configMap().OUTBOX_TOPIC_PATTERN!, z.object(aclNamesEnv).parse({}))).map(
      (g) => `${g.principal} ${g.operation} ${g.resource} ${g.name}${g.prefixed ? '*' : ''}`,
    );
    expect(granted.filter((g) => !g.startsWith('User:sluice-keda ')).sort()).toEqual(planned.sort());
  });

  it.each([
    ...KAFKA_SERVICES.map((s) => ['Deployment', s, `sluice-${s}`] as const),
    ['Job', 'sluice-release', 'sluice-admin'] as const,
  ])('%s %s: signs in as its own KafkaUser %s, the password read from the Secret the User Operator makes', (kind, name, user) => {
    const pod = podOf('prod', kind, name);
    const container = kind === 'Job' ? pod.initContainers![0]! : pod.containers[0]!;
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env.KAFKA_SASL_USERNAME).toBe(user);
    expect(env.KAFKA_SASL_PASSWORD).toBeUndefined();
    find('prod', 'KafkaUser', user);
    const mount = container.volumeMounts!.find((m) => env.KAFKA_SASL_PASSWORD_FILE?.startsWith(`${m.mountPath}/`));
    expect(pod.volumes!.find((v) => v.name === mount?.name)?.secret?.secretName).toBe(user);
  });
});

describe('autoscaling', () => {
  it.each([
    ['projector', projectorConfig.shape.PROJECTOR_GROUP_ID],
    ['payments-worker', paymentsWorkerConfig.shape.PAYMENTS_GROUP_ID],
  ] as const)('%s: KEDA scales it on its consumer group’s lag, never past the partitions', (name, group) => {
    const spec = find('prod', 'ScaledObject', name).spec as {
      maxReplicaCount: number;
      triggers: { type: string; metadata: { consumerGroup: string; topic: string } }[];
    };
    const trigger = spec.triggers[0]!;
    expect(trigger.type).toBe('kafka');
    const explicit = containerOf('prod', name).env?.find(
      (e) => e.name === (name === 'projector' ? 'PROJECTOR_GROUP_ID' : 'PAYMENTS_GROUP_ID'),
    );
    expect(trigger.metadata.consumerGroup).toBe(explicit?.value ?? group.parse(undefined));
    const topic = rendered.prod.find(
      (o) => o.kind === 'KafkaTopic' && (o.spec as { topicName: string }).topicName === trigger.metadata.topic,
    );
    expect(spec.maxReplicaCount).toBeLessThanOrEqual((topic?.spec as { partitions: number }).partitions);
  });

  it.each(['command-api', 'query-api'])('%s: an HPA scales it, and its Deployment fixes no replica count', (name) => {
    expect((find('prod', 'HorizontalPodAutoscaler', name).spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name).toBe(
      name,
    );
    expect((find('prod', 'Deployment', name).spec as { replicas?: number }).replicas).toBeUndefined();
  });
});

describe('files generated from code (deploy/k8s/generate.ts)', () => {
  it.each(Object.keys(generatedFiles()))(
    '%s is what the generator makes (regenerate: npx tsx deploy/k8s/generate.ts)',
    (file) => {
      const parse = (text: string) => parseAllDocuments(text).map((d) => d.toJSON() as unknown);
      expect(parse(readFileSync(join(K8S_DIR, 'base', file), 'utf8'))).toEqual(parse(generatedFiles()[file]!));
    },
  );

  it('turns every rules file of deploy/prometheus/rules into a PrometheusRule', () => {
    const files = readdirSync(join(K8S_DIR, '../prometheus/rules')).filter((f) => f.endsWith('.yml'));
    expect(files.length).toBeGreaterThan(0);
    expect(names('prod', 'PrometheusRule')).toEqual(files.map((f) => `sluice-${f.replace(/\.yml$/, '')}`).sort());
  });
});

describe('the edge proxy on Kubernetes (deploy/k8s/base/edge.yaml)', () => {
  it('is what deploy/k8s/edge-manifest.ts renders from libs/edge', () => {
    const file = readFileSync(join(K8S_DIR, 'base/edge.yaml'), 'utf8');
    expect(parseAllDocuments(file).map((d) => d.toJSON() as unknown)).toEqual(edgeManifests());
  });

  it('sends writes and reads to the command and query API Services, on the ports they expose', () => {
    for (const [name, upstream] of [
      ['command-api', K8S_EDGE_OPTIONS.commandApi],
      ['query-api', K8S_EDGE_OPTIONS.queryApi],
    ] as const) {
      const ports = (find('prod', 'Service', name).spec as { ports: { port: number }[] }).ports;
      expect(upstream.servers).toEqual([`${name}:${ports[0]!.port}`]);
    }
  });

  it('runs nginx on the mounted configuration, probed on its health path, behind a Service', () => {
    const pod = podOf('prod', 'Deployment', 'edge');
    const nginx = pod.containers[0]! as Container & { command: string[] };
    const configDir = nginx.volumeMounts!.find((m) => m.name === 'config')!.mountPath;
    expect(nginx.command.slice(0, 3)).toEqual(['nginx', '-c', `${configDir}/nginx.conf`]);
    expect(nginx.ports?.[0]?.containerPort).toBe(K8S_EDGE_OPTIONS.listen);
    expect((find('prod', 'ConfigMap', 'edge-nginx').data as Record<string, string>)['nginx.conf']).toContain(
      `listen ${String(K8S_EDGE_OPTIONS.listen)} `,
    );
    find('prod', 'Service', 'edge');
  });
});
