import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { renderEdgeConfig, type EdgeOptions } from '@sluice/edge';

/**
 * The edge proxy on Kubernetes: the same nginx configuration `make up` runs
 * (renderEdgeConfig), in a ConfigMap, behind a Deployment and a Service.
 *   node dist/deploy/k8s/edge-manifest.js     → deploy/k8s/base/edge.yaml (then prettier)
 * A unit test fails when the committed file and this renderer disagree.
 */
const CONFIG_DIR = '/etc/sluice-edge';
const PORT = 8080;

/**
 * Per edge pod. The APIs are reached through their Services (kube-proxy spreads the edge's
 * connections over the pods), so max_conns bounds one pod's connections to all of an API's pods.
 */
export const K8S_EDGE_OPTIONS: EdgeOptions = {
  listen: PORT,
  commandApi: { servers: ['command-api:80'], maxInFlight: 256, maxConnsPerServer: 256, keepalive: 64 },
  queryApi: { servers: ['query-api:80'], maxInFlight: 512, maxConnsPerServer: 512, keepalive: 64 },
  workerProcesses: 'auto',
  pidFile: '/tmp/nginx.pid',
  errorLog: 'stderr',
  tempDir: '/tmp/edge',
};

export function edgeManifests(): Record<string, unknown>[] {
  const config = renderEdgeConfig(K8S_EDGE_OPTIONS);
  // A fresh object per use: YAML would otherwise write anchors and aliases.
  const labels = () => ({ 'app.kubernetes.io/name': 'edge' });
  const probe = (initialDelaySeconds: number) => ({
    httpGet: { path: '/edge/health', port: 'http' },
    periodSeconds: 5,
    ...(initialDelaySeconds > 0 && { initialDelaySeconds }),
  });
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'edge-nginx' }, data: { 'nginx.conf': config } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'edge', labels: labels() },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels() },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels: labels(),
            // A changed configuration rolls the pods (nginx reads it at start).
            annotations: { 'sluice.dev/edge-config-sha256': createHash('sha256').update(config).digest('hex') },
          },
          spec: {
            serviceAccountName: 'edge',
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 30,
            securityContext: { runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'nginx',
                // nginx.org's 1.27 on Debian bookworm, built to run unprivileged (local runs use Debian's 1.22:
                // the configuration uses only directives both have).
                image: 'nginxinc/nginx-unprivileged:1.27-bookworm',
                command: ['nginx', '-c', `${CONFIG_DIR}/nginx.conf`, '-e', 'stderr'],
                ports: [{ name: 'http', containerPort: PORT }],
                readinessProbe: probe(0),
                livenessProbe: probe(5),
                lifecycle: {
                  // Endpoints drop the pod first; then nginx's SIGQUIT finishes the requests in flight.
                  preStop: { exec: { command: ['sh', '-c', 'sleep 5 && nginx -c /etc/sluice-edge/nginx.conf -s quit'] } },
                },
                resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'edge-nginx' } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'edge' },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels() } },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'edge' },
      // ClusterIP: put a LoadBalancer or the cluster's ingress in front of it for traffic from outside.
      spec: { selector: labels(), ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  ];
}

/** The ConfigMap's nginx.conf as a literal block, readable as the file nginx reads. */
function toYaml(doc: Record<string, unknown>): string {
  const data = doc.data as Record<string, string> | undefined;
  if (doc.kind !== 'ConfigMap' || !data) return stringify(doc);
  const files = Object.entries(data).map(
    ([name, text]) => `  ${name}: |\n${text.replace(/\n$/, '').replace(/^(?=.)/gm, '    ')}\n`,
  );
  return `${stringify({ ...doc, data: undefined }).replace(/^data:.*\n?/m, '')}data:\n${files.join('')}`;
}

/** edge.yaml as committed (before prettier, which only re-indents it). */
export function renderEdgeYaml(): string {
  const header = '# Generated by deploy/k8s/edge-manifest.ts from libs/edge: edit the options there, not this file.\n';
  return header + edgeManifests().map(toYaml).join('---\n');
}

if (require.main === module) {
  const file = join(__dirname, '../../../deploy/k8s/base/edge.yaml');
  writeFileSync(file, renderEdgeYaml());
  process.stdout.write(`${file}\n`);
}
