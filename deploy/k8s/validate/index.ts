import { join } from 'node:path';
import { checkKustomizations } from './kustomizations';
import type { K8sObject, Problem } from './model';
import { checkPolicies } from './policy';
import { checkReferences } from './references';
import { kustomize } from './render';
import { checkSchemas } from './schema';

export { describeProblem, type K8sObject, type Problem } from './model';
export { kustomize } from './render';

export const OVERLAYS = ['dev', 'staging', 'prod'] as const;
export type Overlay = (typeof OVERLAYS)[number];
/** Overlays held to production's rules (no simulator, no Secret of their own, pinned images). */
const PRODUCTION: readonly Overlay[] = ['prod'];

/** Everything wrong with one rendered overlay. */
export function validateRender(overlay: string, objects: readonly K8sObject[]): Problem[] {
  return [
    ...checkSchemas(overlay, objects),
    ...checkReferences(overlay, objects),
    ...checkPolicies(overlay, objects, { production: (PRODUCTION as readonly string[]).includes(overlay) }),
  ];
}

/**
 * Validates deploy/k8s (or a copy of it at k8sDir): every kustomization lists its files, the base
 * makes no Secret (they are the overlays'), and each overlay renders to objects that pass
 * validateRender. A render that fails is a problem too, not an exception.
 */
export function validateK8s(k8sDir: string, overlays: readonly Overlay[] = OVERLAYS): Problem[] {
  const problems = checkKustomizations(k8sDir);
  const base = tryRender('base', join(k8sDir, 'base'), problems);
  for (const secret of (base ?? []).filter((o) => o.kind === 'Secret'))
    problems.push({
      overlay: 'base',
      object: `Secret/${secret.metadata.name}`,
      message: 'the base makes no Secret: each overlay brings its own',
    });
  for (const overlay of overlays) {
    const objects = tryRender(overlay, join(k8sDir, 'overlays', overlay), problems);
    if (objects) problems.push(...validateRender(overlay, objects));
  }
  return problems;
}

function tryRender(name: string, dir: string, problems: Problem[]): K8sObject[] | undefined {
  try {
    return kustomize(dir);
  } catch (err) {
    problems.push({ overlay: name, object: 'kustomization', message: (err as Error).message });
    return undefined;
  }
}
