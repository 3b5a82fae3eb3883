import {
  allContainers,
  podTemplates,
  ref,
  selects,
  type Container,
  type K8sObject,
  type LabelSelector,
  type PodTemplate,
  type Problem,
} from './model';

/**
 * Whatever one object names in another must exist in the same render: a Service's pods and
 * their ports, a probe's port, a PodMonitor's pods and port (and that port is where each service
 * serves /metrics, METRICS_PORT, and no policy opens it together with a client port), a
 * NetworkPolicy's named ports, the Secrets and ConfigMaps (and the keys in them) that pods,
 * CloudNativePG and KEDA read, and what an autoscaler scales.
 */
export function checkReferences(overlay: string, objects: readonly K8sObject[]): Problem[] {
  const problems: Problem[] = [];
  const report = (o: K8sObject, message: string) => problems.push({ overlay, object: ref(o), message });
  const pods = podTemplates(objects);
  const sources = keySources(objects);

  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const spec = service.spec as {
      selector?: Record<string, string>;
      ports?: { name?: string; targetPort?: number | string; port: number }[];
    };
    if (!spec.selector) continue;
    const matched = pods.filter((p) => selects({ matchLabels: spec.selector }, p.labels));
    if (matched.length === 0) {
      report(service, `selector ${JSON.stringify(spec.selector)} matches no pod template`);
      continue;
    }
    for (const port of spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const p of matched.filter((m) => !hasPort(m.spec.containers, target)))
        report(
          service,
          `port ${port.name ?? port.port} targets ${String(target)}, which no container of ${ref(p.owner)} declares`,
        );
    }
  }

  for (const p of pods) {
    for (const c of allContainers(p.spec)) {
      for (const [kind, probe] of [
        ['readinessProbe', c.readinessProbe],
        ['livenessProbe', c.livenessProbe],
        ['startupProbe', c.startupProbe],
      ] as const) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
        if (port !== undefined && !hasPort([c], port))
          report(p.owner, `container ${c.name}: ${kind} uses port ${String(port)}, which the container does not declare`);
      }
    }
    checkPodReferences(p, sources, (m) => report(p.owner, m));
  }

  for (const monitor of objects.filter((o) => o.kind === 'PodMonitor')) {
    const spec = monitor.spec as { selector: LabelSelector; podMetricsEndpoints?: { port?: string }[] };
    const matched = pods.filter((p) => selects(spec.selector, p.labels));
    if (matched.length === 0) report(monitor, 'selector matches no pod template');
    for (const { port } of spec.podMetricsEndpoints ?? []) {
      if (port === undefined) continue;
      for (const p of matched) {
        const scraped = containerPort(p.spec.containers, port);
        if (!scraped) report(monitor, `scrapes port ${port}, which no container of ${ref(p.owner)} declares`);
        else checkScrapedPort(monitor, p, port, scraped, objects, report);
      }
      checkScrapePolicies(objects, matched, port, report);
    }
  }

  for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const spec = policy.spec as NetworkPolicySpec;
    const selected = pods.filter((p) => selects(spec.podSelector ?? {}, p.labels));
    for (const rule of spec.ingress ?? [])
      for (const { port } of rule.ports ?? [])
        if (typeof port === 'string' && selected.length > 0 && !selected.some((p) => hasPort(p.spec.containers, port)))
          report(policy, `admits port ${port}, which no container of the pods it selects declares`);
  }

  checkAutoscalers(objects, (o, m) => report(o, m));
  checkOperatorReferences(objects, sources, (o, m) => report(o, m));
  return problems;
}

interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  ingress?: { from?: unknown[]; ports?: { port?: number | string }[] }[];
}

/** The port a PodMonitor scrapes is where the service serves /metrics: METRICS_PORT, or PORT when that is unset. */
function checkScrapedPort(
  monitor: K8sObject,
  p: PodTemplate,
  port: string,
  scraped: { container: Container; number: number },
  objects: readonly K8sObject[],
  report: (o: K8sObject, message: string) => void,
): void {
  const metricsPort = envValue(scraped.container, 'METRICS_PORT', objects);
  const served = metricsPort ?? envValue(scraped.container, 'PORT', objects);
  if (served !== undefined && Number(served) !== scraped.number)
    report(
      monitor,
      `scrapes port ${port} (${scraped.number}) of ${ref(p.owner)}, whose service serves /metrics on ${served} ` +
        `(${metricsPort === undefined ? 'PORT: no METRICS_PORT is set' : 'METRICS_PORT'})`,
    );
}

/**
 * Prometheus is admitted to the scraped port alone, and clients never to it: an ingress rule of a
 * scraped pod that opens the scraped port opens no other port the pod declares.
 */
function checkScrapePolicies(
  objects: readonly K8sObject[],
  scraped: readonly PodTemplate[],
  port: string,
  report: (o: K8sObject, message: string) => void,
): void {
  for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const spec = policy.spec as NetworkPolicySpec;
    const selected = scraped.filter((p) => selects(spec.podSelector ?? {}, p.labels));
    if (selected.length === 0) continue;
    for (const rule of spec.ingress ?? []) {
      const ports = (rule.ports ?? []).map((r) => r.port);
      if (!ports.includes(port)) continue;
      const others = ports.filter((x) => x !== port && x !== undefined && selected.some((p) => hasPort(p.spec.containers, x)));
      if (others.length > 0)
        report(
          policy,
          `admits the same peers to the scraped port ${port} and to ${others.join(', ')}: Prometheus to ${port} alone, clients to the others`,
        );
    }
  }
}

/** A container's setting as the service reads it: its own env value, else the ConfigMaps it takes whole (envFrom). */
function envValue(c: Container, name: string, objects: readonly K8sObject[]): string | undefined {
  const own = (c.env ?? []).find((e) => e.name === name);
  if (own) return own.value;
  let value: string | undefined;
  for (const from of c.envFrom ?? []) {
    const map = from.configMapRef && objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef!.name);
    const data = map?.data as Record<string, string> | undefined;
    if (data?.[name] !== undefined) value = data[name];
  }
  return value;
}

function containerPort(containers: readonly Container[], name: string): { container: Container; number: number } | undefined {
  for (const c of containers) {
    const p = (c.ports ?? []).find((x) => x.name === name);
    if (p) return { container: c, number: p.containerPort };
  }
  return undefined;
}

function hasPort(containers: readonly Container[], port: number | string): boolean {
  return containers.some((c) =>
    (c.ports ?? []).some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port)),
  );
}

/** The keys each Secret and ConfigMap will hold, by "Secret/name": rendered ones, ExternalSecret targets and what the operators make. */
type KeySources = Map<string, { keys: Set<string> | 'any'; from: string }>;

function keySources(objects: readonly K8sObject[]): KeySources {
  const sources: KeySources = new Map();
  const add = (kind: 'Secret' | 'ConfigMap', name: string, keys: Iterable<string> | 'any', from: string) =>
    sources.set(`${kind}/${name}`, { keys: keys === 'any' ? 'any' : new Set(keys), from });
  for (const o of objects) {
    const spec = o.spec as Record<string, unknown> | undefined;
    if (o.kind === 'Secret' || o.kind === 'ConfigMap') {
      const data = {
        ...(o.data as object | undefined),
        ...(o.stringData as object | undefined),
        ...(o.binaryData as object | undefined),
      };
      add(o.kind, o.metadata.name, Object.keys(data), 'rendered');
    } else if (o.kind === 'ExternalSecret') {
      const s = spec as {
        target?: { name?: string; template?: { data?: Record<string, string> } };
        data?: { secretKey: string }[];
        dataFrom?: unknown[];
      };
      const keys = s.target?.template?.data ? Object.keys(s.target.template.data) : (s.data ?? []).map((d) => d.secretKey);
      add('Secret', s.target?.name ?? o.metadata.name, s.dataFrom && !s.target?.template?.data ? 'any' : keys, 'ExternalSecret');
    } else if (o.kind === 'KafkaUser') {
      // Strimzi's User Operator: a Secret of the user's name.
      add('Secret', o.metadata.name, ['password', 'sasl.jaas.config'], 'KafkaUser');
    } else if (o.kind === 'Kafka') {
      add('Secret', `${o.metadata.name}-cluster-ca-cert`, ['ca.crt', 'ca.p12', 'ca.password'], 'Kafka');
    } else if (o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/')) {
      add('Secret', `${o.metadata.name}-ca`, ['ca.crt', 'ca.key'], 'Cluster');
    }
  }
  return sources;
}

function checkKey(
  sources: KeySources,
  kind: 'Secret' | 'ConfigMap',
  name: string,
  key: string | undefined,
  where: string,
): string | undefined {
  const source = sources.get(`${kind}/${name}`);
  if (!source)
    return `${where} names ${kind} ${name}, which nothing in this render makes (no ${kind}, ExternalSecret or operator resource)`;
  if (key !== undefined && source.keys !== 'any' && !source.keys.has(key))
    return `${where} reads key ${key} of ${kind} ${name}, which has only ${[...source.keys].join(', ') || 'no keys'}`;
  return undefined;
}

function checkPodReferences(p: PodTemplate, sources: KeySources, report: (message: string) => void): void {
  const check = (...args: Parameters<typeof checkKey> extends [KeySources, ...infer R] ? R : never) => {
    const problem = checkKey(sources, ...args);
    if (problem) report(problem);
  };
  for (const c of allContainers(p.spec)) {
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      const m = e.valueFrom?.configMapKeyRef;
      if (s && !s.optional) check('Secret', s.name, s.key, `container ${c.name}: env ${e.name}`);
      if (m && !m.optional) check('ConfigMap', m.name, m.key, `container ${c.name}: env ${e.name}`);
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef && !e.secretRef.optional) check('Secret', e.secretRef.name, undefined, `container ${c.name}: envFrom`);
      if (e.configMapRef && !e.configMapRef.optional)
        check('ConfigMap', e.configMapRef.name, undefined, `container ${c.name}: envFrom`);
    }
    const volumes = new Set((p.spec.volumes ?? []).map((v) => v.name));
    for (const m of c.volumeMounts ?? [])
      if (!volumes.has(m.name)) report(`container ${c.name}: mounts volume ${m.name}, which the pod does not declare`);
  }
  for (const v of p.spec.volumes ?? []) {
    if (v.secret && !v.secret.optional) {
      const keys = v.secret.items?.map((i) => i.key) ?? [undefined];
      for (const key of keys) check('Secret', v.secret.secretName, key, `volume ${v.name}`);
    }
    if (v.configMap && !v.configMap.optional) {
      const keys = v.configMap.items?.map((i) => i.key) ?? [undefined];
      for (const key of keys) check('ConfigMap', v.configMap.name, key, `volume ${v.name}`);
    }
  }
}

/** HPAs and ScaledObjects scale something that exists, which has no fixed replicas, and never both at once. */
function checkAutoscalers(objects: readonly K8sObject[], report: (o: K8sObject, message: string) => void): void {
  const scaled = new Map<string, K8sObject>();
  for (const a of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')) {
    const target = (a.spec as { scaleTargetRef?: { kind?: string; name: string } }).scaleTargetRef;
    if (!target) continue;
    const kind = target.kind ?? 'Deployment';
    const workload = objects.find((o) => o.kind === kind && o.metadata.name === target.name);
    if (!workload) {
      report(a, `scales ${kind} ${target.name}, which this render does not have`);
      continue;
    }
    const other = scaled.get(ref(workload));
    if (other) report(a, `${ref(workload)} is already scaled by ${ref(other)}: two autoscalers would fight over it`);
    scaled.set(ref(workload), a);
    if ((workload.spec as { replicas?: number }).replicas !== undefined)
      report(workload, `has fixed spec.replicas while ${ref(a)} scales it: every apply would reset the autoscaler's choice`);
  }
}

/** The Secrets and ConfigMaps that CloudNativePG and KEDA read, and KEDA's authentication. */
function checkOperatorReferences(
  objects: readonly K8sObject[],
  sources: KeySources,
  report: (o: K8sObject, message: string) => void,
): void {
  const check = (o: K8sObject, ...args: Parameters<typeof checkKey> extends [KeySources, ...infer R] ? R : never) => {
    const problem = checkKey(sources, ...args);
    if (problem) report(o, problem);
  };
  for (const o of objects) {
    if (o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/')) {
      const spec = o.spec as {
        bootstrap?: { initdb?: { secret?: { name: string } } };
        managed?: { roles?: { name: string; passwordSecret?: { name: string } }[] };
      };
      const initdb = spec.bootstrap?.initdb?.secret;
      if (initdb) check(o, 'Secret', initdb.name, 'password', 'bootstrap.initdb.secret');
      for (const role of spec.managed?.roles ?? [])
        if (role.passwordSecret) check(o, 'Secret', role.passwordSecret.name, 'password', `managed role ${role.name}`);
    }
    if (o.kind === 'TriggerAuthentication') {
      const spec = o.spec as {
        secretTargetRef?: { parameter: string; name: string; key: string }[];
        configMapTargetRef?: { parameter: string; name: string; key: string }[];
      };
      for (const r of spec.secretTargetRef ?? []) check(o, 'Secret', r.name, r.key, `parameter ${r.parameter}`);
      for (const r of spec.configMapTargetRef ?? []) check(o, 'ConfigMap', r.name, r.key, `parameter ${r.parameter}`);
    }
    if (o.kind === 'ScaledObject') {
      for (const t of (o.spec as { triggers?: { authenticationRef?: { name: string; kind?: string } }[] }).triggers ?? []) {
        const auth = t.authenticationRef;
        if (auth && !objects.some((x) => x.kind === (auth.kind ?? 'TriggerAuthentication') && x.metadata.name === auth.name))
          report(
            o,
            `trigger authenticates with ${auth.kind ?? 'TriggerAuthentication'} ${auth.name}, which this render does not have`,
          );
      }
    }
  }
}
