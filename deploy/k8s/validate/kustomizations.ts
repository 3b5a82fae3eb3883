import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, relative } from 'node:path';
import { parse } from 'yaml';
import type { Problem } from './model';

interface Kustomization {
  resources?: string[];
  components?: string[];
  patches?: { path?: string }[];
  patchesStrategicMerge?: string[];
  patchesJson6902?: { path?: string }[];
  secretGenerator?: Generator[];
  configMapGenerator?: Generator[];
}
interface Generator {
  files?: string[];
  envs?: string[];
}

/** Every directory under root that kustomize reads (it holds a kustomization.yaml). */
export function kustomizationDirs(root: string): string[] {
  const dirs: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, 'kustomization.yaml'))) dirs.push(dir);
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory() && entry !== 'node_modules') walk(path);
    }
  };
  walk(root);
  return dirs.sort();
}

/** The files a kustomization names (generator files too), as paths relative to its directory. */
function listed(k: Kustomization): string[] {
  const generatorFiles = (g: Generator) => [...(g.files ?? []).map((f) => f.replace(/^[^=]*=/, '')), ...(g.envs ?? [])];
  return [
    ...(k.resources ?? []),
    ...(k.components ?? []),
    ...(k.patches ?? []).flatMap((p) => (p.path ? [p.path] : [])),
    ...(k.patchesStrategicMerge ?? []),
    ...(k.patchesJson6902 ?? []).flatMap((p) => (p.path ? [p.path] : [])),
    ...(k.secretGenerator ?? []).flatMap(generatorFiles),
    ...(k.configMapGenerator ?? []).flatMap(generatorFiles),
  ].map((p) => normalize(p));
}

/**
 * A manifest left out of its kustomization is silently never applied: every YAML file in a
 * kustomization's directory must be named by it (as a resource, patch or generator input).
 */
export function checkKustomizations(root: string): Problem[] {
  const problems: Problem[] = [];
  for (const dir of kustomizationDirs(root)) {
    const where = relative(root, dir) || '.';
    const k = (parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) ?? {}) as Kustomization;
    const names = new Set(listed(k));
    for (const file of readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
      .sort())
      if (!names.has(file))
        problems.push({
          overlay: where,
          object: file,
          message: `is not listed in ${where}/kustomization.yaml, so kustomize never applies it`,
        });
  }
  return problems;
}
