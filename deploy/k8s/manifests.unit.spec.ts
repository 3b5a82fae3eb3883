import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig, type z } from '@sluice/config';
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

interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Container {
  args: string[];
  ports?: { containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
}

const dir = join(__dirname, 'base');
const docs: Doc[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !f.endsWith('-patch.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as Doc));
const byName = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const configMap = byName('ConfigMap', 'sluice-config')!.data!;
/** The Secrets a container takes its environment from, merged. */
const secretsOf = (container: Container): Record<string, string> => {
  const merged: Record<string, string> = {};
  for (const e of container.envFrom ?? []) if (e.secretRef) Object.assign(merged, byName('Secret', e.secretRef.name)!.stringData);
  return merged;
};
const containerOf = (kind: string, name: string): Container =>
  (byName(kind, name)!.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;

const SCHEMAS: Record<string, z.ZodObject> = {
  'command-api': commandApiConfig,
  'query-api': queryApiConfig,
  'outbox-relay': relayConfig,
  projector: projectorConfig,
  'bonus-service': bonusServiceConfig,
  'psp-simulator': pspSimulatorConfig,
  'payments-worker': paymentsWorkerConfig,
};

describe('Kubernetes manifests (deploy/k8s/base)', () => {
  const deployments = docs.filter((d) => d.kind === 'Deployment');

  it('deploy every service the local platform runs, and the edge proxy', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...LOCAL_SERVICES.map((s) => s.name), 'edge'].sort());
  });

  it.each(LOCAL_SERVICES.map((s) => [s.name, s.port] as const))(
    '%s: entry point, port, probes and a grace period longer than its shutdown deadline',
    (name, port) => {
      const spec = byName('Deployment', name)!.spec as {
        template: { spec: { containers: Container[]; terminationGracePeriodSeconds: number } };
      };
      const [container] = spec.template.spec.containers;
      expect(container!.args).toEqual([`dist/services/${name}/src/main.js`]);
      expect(container!.ports?.[0]?.containerPort).toBe(port);
      expect(container!.env?.find((e) => e.name === 'PORT')?.value).toBe(String(port));
      expect(container!.readinessProbe?.httpGet.path).toBe('/health/ready');
      expect(container!.livenessProbe?.httpGet.path).toBe('/health/live');
      expect(spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(configMap.SHUTDOWN_DEADLINE_MS));
    },
  );

  it.each(Object.keys(SCHEMAS))('%s: the configuration it is given passes its own start-up validation', (name) => {
    const container = containerOf('Deployment', name);
    const env: Record<string, string> = { ...configMap, ...secretsOf(container) };
    for (const e of container.env ?? []) env[e.name] = e.value ?? '';
    const result = SCHEMAS[name]!.safeParse(env);
    expect(result.error?.issues ?? []).toEqual([]);
    // Every key set explicitly on the container is one the service reads (no typo goes unnoticed).
    const known = Object.keys(SCHEMAS[name]!.shape);
    expect((container.env ?? []).map((e) => e.name).filter((k) => !known.includes(k))).toEqual([]);
  });
});

describe('database roles and secrets on Kubernetes', () => {
  const connecting = LOCAL_SERVICES.map((s) => s.name).filter((n) => n !== 'psp-simulator');

  it.each(connecting)('%s: connects as its own database role, verifying the server (sslmode=verify-full)', (name) => {
    const url = new URL(secretsOf(containerOf('Deployment', name)).DATABASE_URL!);
    expect(url.username).toBe(`sluice_${name.replace(/-/g, '_')}`);
    expect(url.searchParams.get('sslmode')).toBe('verify-full');
  });

  it('runs in production mode, where the placeholder secrets keep every service from starting', () => {
    expect(configMap.SLUICE_ENV).toBe('production');
    for (const name of Object.keys(SCHEMAS)) {
      const container = containerOf('Deployment', name);
      const env: Record<string, string> = { ...configMap, ...secretsOf(container) };
      for (const e of container.env ?? []) env[e.name] = e.value ?? '';
      expect(() => loadConfig(SCHEMAS[name]!, env)).toThrow(/placeholder/);
    }
  });

  it('migrates as the owner role and registers the schemas in the release Job, before the services', () => {
    const job = byName('Job', 'sluice-release')!.spec as {
      template: { spec: { initContainers: Container[]; containers: Container[] } };
    };
    const [migrate] = job.template.spec.initContainers;
    expect(migrate!.args).toEqual(['dist/services/cli/src/main.js', 'migrate']);
    expect(new URL(secretsOf(migrate!).DATABASE_URL!).username).toBe('sluice_owner');
    expect(job.template.spec.containers[0]!.args).toEqual(['dist/services/cli/src/main.js', 'schemas', 'register']);
  });
});

describe('Kafka access on Kubernetes', () => {
  const KAFKA_SERVICES = ['command-api', 'outbox-relay', 'projector', 'bonus-service', 'payments-worker'];
  type PodSpec = {
    volumes?: { name: string; secret?: { secretName: string } }[];
    containers: (Container & { volumeMounts?: { name: string; mountPath: string }[] })[];
  };
  const podOf = (kind: string, name: string) => (byName(kind, name)!.spec as { template: { spec: PodSpec } }).template.spec;

  it('connects over TLS with SCRAM, and refuses plaintext (SLUICE_ENV is not development)', () => {
    expect(configMap).toMatchObject({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', SLUICE_ENV: 'production' });
    expect(configMap.KAFKA_SSL_CA_FILE).toBeDefined();
  });

  it.each([...KAFKA_SERVICES.map((s) => ['Deployment', s, `sluice-${s}`]), ['Job', 'sluice-topics', 'sluice-admin']])(
    '%s %s: its own principal %s, the password read from its mounted Secret, never written in the manifest',
    (kind, name, user) => {
      const pod = podOf(kind, name);
      const [container] = pod.containers;
      const env = Object.fromEntries((container!.env ?? []).map((e) => [e.name, e.value]));
      expect(env.KAFKA_SASL_USERNAME).toBe(user);
      expect(env.KAFKA_SASL_PASSWORD).toBeUndefined();
      const mount = container!.volumeMounts!.find((m) => env.KAFKA_SASL_PASSWORD_FILE?.startsWith(`${m.mountPath}/`));
      expect(pod.volumes!.find((v) => v.name === mount?.name)?.secret?.secretName).toBe(user);
      const ca = container!.volumeMounts!.find((m) => configMap.KAFKA_SSL_CA_FILE!.startsWith(`${m.mountPath}/`));
      expect(pod.volumes!.find((v) => v.name === ca?.name)?.secret).toBeDefined();
    },
  );
});

describe('the edge proxy on Kubernetes (deploy/k8s/base/edge.yaml)', () => {
  const file = readFileSync(join(dir, 'edge.yaml'), 'utf8');

  it('is what deploy/k8s/edge-manifest.ts renders from libs/edge (regenerate: node dist/deploy/k8s/edge-manifest.js)', () => {
    expect(parseAllDocuments(file).map((d) => d.toJSON() as unknown)).toEqual(edgeManifests());
    expect(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')).toMatch(/^ {2}- edge\.yaml$/m);
  });

  it('sends writes and reads to the command and query API Services, on the ports they expose', () => {
    const services = docs.filter((d) => d.kind === 'Service');
    for (const [name, upstream] of [
      ['command-api', K8S_EDGE_OPTIONS.commandApi],
      ['query-api', K8S_EDGE_OPTIONS.queryApi],
    ] as const) {
      const ports = (services.find((s) => s.metadata.name === name)?.spec as { ports: { port: number }[] }).ports;
      expect(upstream.servers).toEqual([`${name}:${ports[0]!.port}`]);
    }
  });

  it('runs nginx on the mounted configuration, probed on its health path, behind a Service', () => {
    const spec = byName('Deployment', 'edge')!.spec as {
      template: {
        spec: { containers: (Container & { command: string[]; volumeMounts: { name: string; mountPath: string }[] })[] };
      };
    };
    const [nginx] = spec.template.spec.containers;
    const configDir = nginx!.volumeMounts.find((m) => m.name === 'config')!.mountPath;
    expect(nginx!.command.slice(0, 3)).toEqual(['nginx', '-c', `${configDir}/nginx.conf`]);
    expect(nginx!.ports?.[0]?.containerPort).toBe(K8S_EDGE_OPTIONS.listen);
    expect(nginx!.readinessProbe?.httpGet.path).toBe('/edge/health');
    expect(byName('ConfigMap', 'edge-nginx')!.data!['nginx.conf']).toContain(`listen ${String(K8S_EDGE_OPTIONS.listen)} `);
    expect(byName('Service', 'edge')).toBeDefined();
  });
});
