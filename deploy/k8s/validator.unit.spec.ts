import { describeProblem, validateK8s, type Overlay } from './validate';
import { appendDocument, copyOfK8s, deleteField, removeDocument, setField } from './validate/test-support';

/**
 * The validator is only as good as what it catches: each row breaks a scratch copy of deploy/k8s
 * the way a hurried change would, and the validator must name the breakage. The first row checks
 * that the copy, unbroken, has nothing to report, so each later report comes from its own breakage.
 */
interface Breakage {
  name: string;
  overlay: Overlay;
  breakIt: (dir: string) => void;
  reported: RegExp;
}

const deployment = (name: string) => ({ kind: 'Deployment', name });
const CONTAINER = ['spec', 'template', 'spec', 'containers', 0] as const;
const POD = ['spec', 'template', 'spec'] as const;
const without = (name: string) => (old: unknown) => (old as { name?: string }[]).filter((x) => x.name !== name);

const BREAKAGES: Breakage[] = [
  {
    name: 'a Service selector typo',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(
        dir,
        'base/command-api.yaml',
        { kind: 'Service', name: 'command-api' },
        ['spec', 'selector', 'app.kubernetes.io/name'],
        'comand-api',
      ),
    reported: /Service\/command-api: selector .*comand-api.* matches no pod template/,
  },
  {
    name: 'a Secret reference that nothing makes',
    overlay: 'prod',
    breakIt: (dir) => removeDocument(dir, 'components/external-secrets/external-secrets.yaml', 'sluice-psp'),
    reported:
      /Deployment\/payments-worker: container payments-worker: envFrom names Secret sluice-psp, which nothing in this render makes/,
  },
  {
    name: 'a Secret key that the Secret lacks',
    overlay: 'dev',
    breakIt: (dir) =>
      setField(
        dir,
        'base/query-api.yaml',
        deployment('query-api'),
        [...CONTAINER, 'env', 0, 'valueFrom', 'secretKeyRef', 'key'],
        'DATABASE_URI',
      ),
    reported:
      /Deployment\/query-api: container query-api: env DATABASE_URL reads key DATABASE_URI of Secret sluice-db-role-query-api/,
  },
  {
    name: 'a database role whose password Secret is gone',
    overlay: 'dev',
    breakIt: (dir) =>
      setField(
        dir,
        'overlays/dev/kustomization.yaml',
        'only',
        ['secretGenerator'],
        undefined,
        without('sluice-db-role-bonus-service'),
      ),
    reported: /Cluster\/sluice-db: managed role sluice_bonus_service names Secret sluice-db-role-bonus-service, which nothing/,
  },
  {
    name: 'a file left out of the kustomization',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'base/kustomization.yaml', 'only', ['resources'], undefined, (old) =>
        (old as string[]).filter((r) => r !== 'monitoring.yaml'),
      ),
    reported: /base: monitoring\.yaml: is not listed in base\/kustomization\.yaml/,
  },
  {
    name: 'a preStop pause longer than the grace period allows',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(
        dir,
        'base/projector.yaml',
        deployment('projector'),
        [...CONTAINER, 'lifecycle', 'preStop', 'sleep', 'seconds'],
        15,
      ),
    reported:
      /Deployment\/projector: container projector: preStop pause 15 s \+ shutdown deadline 20 s .* not less than terminationGracePeriodSeconds 30/,
  },
  {
    name: 'an unknown field (misspelt)',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'base/outbox-relay.yaml', deployment('outbox-relay'), [...CONTAINER, 'imagePullPolicyy'], 'Always'),
    reported:
      /Deployment\/outbox-relay: schema: spec\.template\.spec\.containers\[0\]\.imagePullPolicyy: .*does not exist in type 'IContainer'/,
  },
  {
    name: 'an unknown field in a custom resource',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'base/postgres.yaml', { kind: 'Cluster', name: 'sluice-db' }, ['spec', 'walLevel'], 'logical'),
    reported: /Cluster\/sluice-db: schema: spec\.walLevel: .*does not exist/,
  },
  {
    name: 'a value of the wrong type',
    overlay: 'staging',
    breakIt: (dir) =>
      setField(dir, 'base/autoscaling.yaml', { kind: 'ScaledObject', name: 'projector' }, ['spec', 'maxReplicaCount'], 'twelve'),
    reported: /ScaledObject\/projector: schema: spec\.maxReplicaCount: Type 'string' is not assignable to type 'number'/,
  },
  {
    name: 'a pod without a seccomp profile',
    overlay: 'prod',
    breakIt: (dir) =>
      deleteField(dir, 'base/query-api.yaml', deployment('query-api'), [...POD, 'securityContext', 'seccompProfile']),
    reported: /Deployment\/query-api: Pod Security restricted: container query-api: seccompProfile must be RuntimeDefault/,
  },
  {
    name: 'a container that keeps its capabilities',
    overlay: 'prod',
    breakIt: (dir) =>
      deleteField(dir, 'base/bonus-service.yaml', deployment('bonus-service'), [...CONTAINER, 'securityContext', 'capabilities']),
    reported: /Deployment\/bonus-service: Pod Security restricted: container bonus-service: capabilities must drop ALL/,
  },
  {
    name: 'an HPA target typo',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(
        dir,
        'base/query-api.yaml',
        { kind: 'HorizontalPodAutoscaler', name: 'query-api' },
        ['spec', 'scaleTargetRef', 'name'],
        'query-apl',
      ),
    reported: /HorizontalPodAutoscaler\/query-api: scales Deployment query-apl, which this render does not have/,
  },
  {
    name: 'fixed replicas on a Deployment an autoscaler scales',
    overlay: 'prod',
    breakIt: (dir) => setField(dir, 'base/payments-worker.yaml', deployment('payments-worker'), ['spec', 'replicas'], 2),
    reported: /Deployment\/payments-worker: has fixed spec\.replicas while ScaledObject\/payments-worker scales it/,
  },
  {
    name: 'a port name typo',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'base/command-api.yaml', deployment('command-api'), [...CONTAINER, 'ports', 0, 'name'], 'htp'),
    reported: /Service\/command-api: port http targets http, which no container of Deployment\/command-api declares/,
  },
  {
    name: 'a PodMonitor scraping a port no pod has',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(
        dir,
        'base/monitoring.yaml',
        { kind: 'PodMonitor', name: 'sluice-services' },
        ['spec', 'podMetricsEndpoints', 0, 'port'],
        'metric',
      ),
    reported: /PodMonitor\/sluice-services: scrapes port metric, which no container of Deployment\/command-api declares/,
  },
  {
    name: 'a PodMonitor scraping the API port, which answers /metrics 404',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(
        dir,
        'base/monitoring.yaml',
        { kind: 'PodMonitor', name: 'sluice-services' },
        ['spec', 'podMetricsEndpoints', 0, 'port'],
        'http',
      ),
    reported:
      /PodMonitor\/sluice-services: scrapes port http \(3000\) of Deployment\/command-api, whose service serves \/metrics on 9464 \(METRICS_PORT\)/,
  },
  {
    name: 'a metrics container port that is not METRICS_PORT',
    overlay: 'staging',
    breakIt: (dir) =>
      setField(dir, 'base/query-api.yaml', deployment('query-api'), [...CONTAINER, 'ports', 1, 'containerPort'], 9465),
    reported:
      /PodMonitor\/sluice-services: scrapes port metrics \(9465\) of Deployment\/query-api, whose service serves \/metrics on 9464/,
  },
  {
    name: 'Prometheus admitted to the API port as well',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(
        dir,
        'base/network-policies.yaml',
        { kind: 'NetworkPolicy', name: 'prometheus-scrape' },
        ['spec', 'ingress', 0, 'ports'],
        undefined,
        (old) => [...(old as object[]), { protocol: 'TCP', port: 'http' }],
      ),
    reported: /NetworkPolicy\/prometheus-scrape: admits the same peers to the scraped port metrics and to http/,
  },
  {
    name: 'a NetworkPolicy port name typo',
    overlay: 'dev',
    breakIt: (dir) =>
      setField(
        dir,
        'base/network-policies.yaml',
        { kind: 'NetworkPolicy', name: 'prometheus-scrape' },
        ['spec', 'ingress', 0, 'ports', 0, 'port'],
        'metrcs',
      ),
    reported: /NetworkPolicy\/prometheus-scrape: admits port metrcs, which no container of the pods it selects declares/,
  },
  {
    name: 'the payment provider simulator in prod',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'overlays/prod/kustomization.yaml', 'only', ['components'], undefined, (old) => [
        ...(old as string[]),
        '../../components/psp-simulator',
      ]),
    reported: /prod: Deployment\/psp-simulator: the payment provider simulator is not for production/,
  },
  {
    name: 'a placeholder Secret in the base',
    overlay: 'dev',
    breakIt: (dir) =>
      appendDocument(dir, 'base/config.yaml', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'sluice-psp-extra' },
        stringData: { PSP_WEBHOOK_SECRET: 'change-me' },
      }),
    reported: /base: Secret\/sluice-psp-extra: the base makes no Secret/,
  },
  {
    name: 'a placeholder value in a Secret',
    overlay: 'dev',
    breakIt: (dir) =>
      setField(dir, 'overlays/dev/kustomization.yaml', 'only', ['secretGenerator'], undefined, (old) =>
        (old as { name: string; literals?: string[] }[]).map((g) =>
          g.name === 'sluice-psp' ? { ...g, literals: ['PSP_WEBHOOK_SECRET=change-me'] } : g,
        ),
      ),
    reported: /dev: Secret\/sluice-psp: holds a placeholder value/,
  },
  {
    name: 'a prod image not pinned by digest',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'overlays/prod/kustomization.yaml', 'only', ['images', 0], {
        name: 'sluice',
        newName: 'ghcr.io/sluice-dev/sluice',
        newTag: 'latest',
      }),
    reported:
      /prod: Deployment\/command-api: container command-api: image ghcr\.io\/sluice-dev\/sluice:latest is not pinned by digest/,
  },
  {
    name: 'no default-deny NetworkPolicy',
    overlay: 'staging',
    breakIt: (dir) => removeDocument(dir, 'base/network-policies.yaml', 'default-deny'),
    reported: /staging: Namespace\/sluice: no default-deny NetworkPolicy/,
  },
  {
    name: 'a namespace that does not enforce Pod Security restricted',
    overlay: 'prod',
    breakIt: (dir) =>
      setField(dir, 'base/namespace.yaml', 'only', ['metadata', 'labels', 'pod-security.kubernetes.io/enforce'], 'baseline'),
    reported: /Namespace\/sluice: lacks the label pod-security\.kubernetes\.io\/enforce=restricted/,
  },
  {
    name: 'a pod that mounts its service account token',
    overlay: 'prod',
    breakIt: (dir) => {
      deleteField(dir, 'base/release-job.yaml', 'only', [...POD, 'automountServiceAccountToken']);
      setField(
        dir,
        'base/service-accounts.yaml',
        { kind: 'ServiceAccount', name: 'sluice-release' },
        ['automountServiceAccountToken'],
        true,
      );
    },
    reported: /Job\/sluice-release: mounts a service account token/,
  },
  {
    name: 'a component added without the overlay namespace',
    overlay: 'staging',
    breakIt: (dir) => deleteField(dir, 'overlays/staging/kustomization.yaml', 'only', ['namespace']),
    reported: /staging: Deployment\/psp-simulator: is in namespace \(none: default\), which this render does not declare/,
  },
];

describe('the Kubernetes manifest validator', () => {
  it('finds nothing wrong with deploy/k8s as committed', () => {
    const copy = copyOfK8s();
    try {
      expect(validateK8s(copy.dir).map(describeProblem)).toEqual([]);
    } finally {
      copy.remove();
    }
  }, 120_000);

  it.each(BREAKAGES.map((b) => [b.name, b] as const))(
    'reports %s',
    (_name, breakage) => {
      const copy = copyOfK8s();
      try {
        breakage.breakIt(copy.dir);
        const problems = validateK8s(copy.dir, [breakage.overlay]).map(describeProblem);
        expect(problems).toContainEqual(expect.stringMatching(breakage.reported));
      } finally {
        copy.remove();
      }
    },
    60_000,
  );
});
