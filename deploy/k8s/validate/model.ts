/** One rendered Kubernetes object, as kustomize prints it. Fields are read defensively: the schema check is separate. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** What the validator found wrong: where (overlay, object) and what, in a sentence. */
export interface Problem {
  overlay: string;
  object: string;
  message: string;
}

export const describeProblem = (p: Problem): string => `${p.overlay}: ${p.object}: ${p.message}`;

export const ref = (o: Pick<K8sObject, 'kind' | 'metadata'>): string => `${o.kind}/${o.metadata.name}`;

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef };
  }[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command?: string[] } } };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

export interface Probe {
  httpGet?: { port: number | string; path?: string };
  tcpSocket?: { port: number | string };
  grpc?: { port: number };
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

export interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string }[]; optional?: boolean };
  configMap?: { name: string; items?: { key: string }[]; optional?: boolean };
  hostPath?: unknown;
  emptyDir?: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext & { runAsGroup?: number };
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}

/** A workload's pod template: Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs have one. */
export interface PodTemplate {
  owner: K8sObject;
  labels: Record<string, string>;
  spec: PodSpec;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

export function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  return objects
    .filter((o) => WORKLOADS.has(o.kind))
    .map((o) => {
      const template = (o.spec as { template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec } }).template;
      return { owner: o, labels: template?.metadata?.labels ?? {}, spec: template?.spec ?? { containers: [] } };
    });
}

export const allContainers = (spec: PodSpec): Container[] => [...(spec.initContainers ?? []), ...spec.containers];

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Whether labels satisfy a label selector (an empty selector selects everything). */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = labels[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && (value === undefined || !values.includes(value))) return false;
    if (e.operator === 'NotIn' && value !== undefined && values.includes(value)) return false;
    if (e.operator === 'Exists' && value === undefined) return false;
    if (e.operator === 'DoesNotExist' && value !== undefined) return false;
  }
  return true;
}
