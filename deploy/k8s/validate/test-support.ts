import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { DEV_COMMAND_KEYS_DIR, ensureDevCommandKeys } from '../dev-command-keys';

/** deploy/k8s itself. */
export const K8S_DIR = join(__dirname, '..');

/**
 * A scratch copy of deploy/k8s with the dev overlay's command keys made (as a developer's
 * machine has them; git holds none), removed by the returned function.
 */
export function copyOfK8s(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-k8s-'));
  const keys = join(K8S_DIR, DEV_COMMAND_KEYS_DIR);
  cpSync(K8S_DIR, dir, { recursive: true, filter: (src) => !src.startsWith(keys) });
  ensureDevCommandKeys(dir);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Which document of a file to edit: a Kubernetes object by kind and name, or the file's only document. */
export type Target = { kind: string; name: string } | 'only';
type Path = readonly (string | number)[];
type Node = Record<string | number, unknown>;

function edit(dir: string, file: string, change: (docs: unknown[]) => unknown[]): void {
  const path = join(dir, file);
  const docs = parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJSON() as unknown);
  writeFileSync(
    path,
    change(docs)
      .map((d) => stringify(d))
      .join('---\n'),
  );
}

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null;

function pick(docs: unknown[], target: Target, file: string): Node {
  const doc =
    target === 'only'
      ? docs[0]
      : docs.find((d) => isObject(d) && d.kind === target.kind && isObject(d.metadata) && d.metadata.name === target.name);
  if (!isObject(doc)) throw new Error(`${file}: no ${target === 'only' ? 'document' : `${target.kind}/${target.name}`} to edit`);
  return doc;
}

/** The parent of path's last step, throwing when the path is not there: a breakage that edits nothing proves nothing. */
function parentOf(doc: Node, path: Path, file: string): Node {
  let node: unknown = doc;
  for (const step of path.slice(0, -1)) {
    if (!isObject(node) || !(step in node)) throw new Error(`${file}: no ${path.join('.')} to edit`);
    node = node[step];
  }
  if (!isObject(node)) throw new Error(`${file}: no ${path.join('.')} to edit`);
  return node;
}

/** Sets a field of a document of the copy (to value, or to what update makes of the old value). */
export function setField(
  dir: string,
  file: string,
  target: Target,
  path: Path,
  value: unknown,
  update?: (old: unknown) => unknown,
): void {
  edit(dir, file, (docs) => {
    const parent = parentOf(pick(docs, target, file), path, file);
    const key = path[path.length - 1]!;
    parent[key] = update ? update(parent[key]) : value;
    return docs;
  });
}

/** Deletes a field that must be there. */
export function deleteField(dir: string, file: string, target: Target, path: Path): void {
  edit(dir, file, (docs) => {
    const parent = parentOf(pick(docs, target, file), path, file);
    const key = path[path.length - 1]!;
    if (!(key in parent)) throw new Error(`${file}: no ${path.join('.')} to delete`);
    delete parent[key];
    return docs;
  });
}

/** Removes the documents of a file with this name (at least one must go). */
export function removeDocument(dir: string, file: string, name: string): void {
  edit(dir, file, (docs) => {
    const kept = docs.filter((d) => !(isObject(d) && isObject(d.metadata) && d.metadata.name === name));
    if (kept.length === docs.length) throw new Error(`${file}: no document named ${name} to remove`);
    return kept;
  });
}

export function appendDocument(dir: string, file: string, doc: object): void {
  edit(dir, file, (docs) => [...docs, doc]);
}
