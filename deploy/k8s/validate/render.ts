import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './model';

/** What kustomize made of one directory (an overlay, or the base), object by object. */
export function kustomize(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('kubectl is not on PATH: the manifests are rendered with `kubectl kustomize`');
    throw new Error(`kubectl kustomize ${dir} failed: ${(e.stderr ?? e.message).trim()}`);
  }
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null);
}
