import { allContainers, podTemplates, ref, type Container, type K8sObject, type PodTemplate, type Problem } from './model';

/** Where the services' shutdown deadline is set for every pod (the sluice-config ConfigMap), unless a container overrides it. */
const SHUTDOWN_SETTING = 'SHUTDOWN_DEADLINE_MS';
/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_S = 30;
/** Placeholders in manifests (libs/config refuses them at start in production too). */
const PLACEHOLDER = /change-?me/i;
const PINNED = /@sha256:[0-9a-f]{64}$/;
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'ClusterSecretStore',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
]);

/**
 * The rules every render must follow: Pod Security "restricted" on every pod and namespace, no
 * service account token mounted, a grace period longer than the preStop pause plus the service's
 * own shutdown deadline, a default-deny NetworkPolicy, no placeholder secret. Production also has
 * no payment provider simulator, no Secret of its own (all come from ExternalSecret) and every
 * image pinned by digest.
 */
export function checkPolicies(overlay: string, objects: readonly K8sObject[], options: { production: boolean }): Problem[] {
  const problems: Problem[] = [];
  const report = (o: K8sObject, message: string) => problems.push({ overlay, object: ref(o), message });
  const pods = podTemplates(objects);

  for (const p of pods) {
    for (const m of restrictedViolations(p)) report(p.owner, `Pod Security restricted: ${m}`);
    checkServiceAccount(p, objects, (m) => report(p.owner, m));
    const grace = p.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S;
    for (const c of p.spec.containers) {
      const pause = preStopSeconds(c);
      const deadline = shutdownDeadlineMs(c, objects);
      if (pause + deadline / 1000 >= grace)
        report(
          p.owner,
          `container ${c.name}: preStop pause ${String(pause)} s + shutdown deadline ${String(deadline / 1000)} s (${SHUTDOWN_SETTING}) is not less than terminationGracePeriodSeconds ${String(grace)}: the kubelet would kill it mid-shutdown`,
        );
    }
  }

  for (const ns of objects.filter((o) => o.kind === 'Namespace'))
    if (ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted')
      report(ns, 'lacks the label pod-security.kubernetes.io/enforce=restricted');

  // Objects an overlay or component adds are in a namespace only if the overlay says so.
  const declared = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  for (const o of objects.filter((x) => !CLUSTER_SCOPED.has(x.kind)))
    if (!declared.has(o.metadata.namespace ?? 'default'))
      report(o, `is in namespace ${o.metadata.namespace ?? '(none: default)'}, which this render does not declare`);

  const namespaces = new Set(pods.map((p) => p.owner.metadata.namespace ?? 'default'));
  for (const namespace of namespaces) {
    const denied = objects.some(
      (o) =>
        o.kind === 'NetworkPolicy' &&
        (o.metadata.namespace ?? 'default') === namespace &&
        isDefaultDeny(o.spec as { podSelector?: object; policyTypes?: string[]; ingress?: unknown[]; egress?: unknown[] }),
    );
    if (!denied)
      problems.push({
        overlay,
        object: `Namespace/${namespace}`,
        message: 'no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)',
      });
  }

  for (const o of objects.filter((x) => x.kind === 'Secret')) {
    const values = Object.values({ ...(o.stringData as object | undefined) }).map(String);
    const encoded = Object.values({ ...(o.data as object | undefined) }).map((v) =>
      Buffer.from(String(v), 'base64').toString('utf8'),
    );
    if ([...values, ...encoded].some((v) => PLACEHOLDER.test(v)))
      report(o, 'holds a placeholder value (change-me): a secret must come from the overlay');
    if (options.production) report(o, 'is a Secret in the manifests: production Secrets come from ExternalSecret');
  }

  if (options.production) {
    for (const p of pods) {
      if (
        p.owner.metadata.name === 'psp-simulator' ||
        allContainers(p.spec).some((c) => (c.args ?? []).some((a) => a.includes('psp-simulator')))
      )
        report(p.owner, 'the payment provider simulator is not for production');
      for (const c of allContainers(p.spec)) {
        if (!c.image || !PINNED.test(c.image))
          report(p.owner, `container ${c.name}: image ${String(c.image)} is not pinned by digest (@sha256:…)`);
        const psp = c.env?.find((e) => e.name === 'PSP_URL')?.value;
        if (psp !== undefined && psp.includes('psp-simulator'))
          report(p.owner, `container ${c.name}: PSP_URL points at the simulator`);
      }
    }
  }
  return problems;
}

export function isDefaultDeny(spec: {
  podSelector?: object;
  policyTypes?: string[];
  ingress?: unknown[];
  egress?: unknown[];
}): boolean {
  return (
    spec.podSelector !== undefined &&
    Object.keys(spec.podSelector).length === 0 &&
    (spec.policyTypes ?? []).includes('Ingress') &&
    (spec.policyTypes ?? []).includes('Egress') &&
    (spec.ingress ?? []).length === 0 &&
    (spec.egress ?? []).length === 0
  );
}

/** What keeps a pod from the "restricted" Pod Security Standard, plus a read-only root filesystem. */
function restrictedViolations(p: PodTemplate): string[] {
  const out: string[] = [];
  const pod = p.spec.securityContext ?? {};
  if (p.spec.hostNetwork || p.spec.hostPID || p.spec.hostIPC) out.push('uses a host namespace');
  for (const v of p.spec.volumes ?? []) if (v.hostPath !== undefined) out.push(`volume ${v.name} is a hostPath`);
  if (pod.runAsUser === 0) out.push('pod runs as user 0');
  for (const c of allContainers(p.spec)) {
    const s = c.securityContext ?? {};
    const seccomp = s.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      out.push(
        `container ${c.name}: seccompProfile must be RuntimeDefault or Localhost (pod or container), is ${String(seccomp)}`,
      );
    if ((s.runAsNonRoot ?? pod.runAsNonRoot) !== true)
      out.push(`container ${c.name}: runAsNonRoot must be true (pod or container)`);
    if (s.runAsUser === 0) out.push(`container ${c.name}: runs as user 0`);
    if (s.privileged) out.push(`container ${c.name}: privileged`);
    if (s.allowPrivilegeEscalation !== false) out.push(`container ${c.name}: allowPrivilegeEscalation must be false`);
    if (!(s.capabilities?.drop ?? []).includes('ALL')) out.push(`container ${c.name}: capabilities must drop ALL`);
    for (const cap of s.capabilities?.add ?? [])
      if (cap !== 'NET_BIND_SERVICE') out.push(`container ${c.name}: adds capability ${cap}`);
    if (s.readOnlyRootFilesystem !== true) out.push(`container ${c.name}: readOnlyRootFilesystem must be true`);
  }
  return out;
}

/** Each pod runs as a ServiceAccount of its own (not `default`) that the render declares, with no API token mounted. */
function checkServiceAccount(p: PodTemplate, objects: readonly K8sObject[], report: (message: string) => void): void {
  const name = p.spec.serviceAccountName;
  if (!name || name === 'default') {
    report('runs as the default ServiceAccount: give it its own');
    return;
  }
  const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === name);
  if (!account) report(`names ServiceAccount ${name}, which this render does not have`);
  const automount = p.spec.automountServiceAccountToken ?? (account?.automountServiceAccountToken as boolean | undefined);
  if (automount !== false) report('mounts a service account token: set automountServiceAccountToken false');
}

function preStopSeconds(c: Container): number {
  const preStop = c.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const script = (preStop?.exec?.command ?? []).join(' ');
  const sleep = /\bsleep\s+(\d+(?:\.\d+)?)/.exec(script);
  return sleep ? Number(sleep[1]) : 0;
}

/** The container's SHUTDOWN_DEADLINE_MS: its own env, else the ConfigMaps it takes its environment from (0 when unset: not a Sluice service). */
function shutdownDeadlineMs(c: Container, objects: readonly K8sObject[]): number {
  const own = c.env?.find((e) => e.name === SHUTDOWN_SETTING)?.value;
  if (own !== undefined) return Number(own);
  for (const e of [...(c.envFrom ?? [])].reverse()) {
    const name = e.configMapRef?.name;
    const map = name ? objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) : undefined;
    const value = (map?.data as Record<string, string> | undefined)?.[SHUTDOWN_SETTING];
    if (value !== undefined) return Number(value);
  }
  return 0;
}
