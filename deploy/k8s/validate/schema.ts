import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ts from 'typescript';
import { ref, type K8sObject, type Problem } from './model';

/**
 * Strict schema validation: each object must be assignable to the TypeScript interface that
 * kubernetes-models generates from the Kubernetes OpenAPI document and from each operator's CRD
 * schemas (Strimzi, CloudNativePG, KEDA, external-secrets, prometheus-operator). The objects are
 * written as object literals typed by those interfaces and type-checked, so an unknown field at
 * any depth fails (TypeScript's excess property check), and so do a wrong type, a missing required
 * field and a value outside an enum. Fields a CRD leaves open (x-kubernetes-preserve-unknown-fields,
 * such as a Kafka's config) are `{}` there and accept anything, as the API server does.
 * The packages' own run-time validators are not used: they ignore unknown fields.
 */
const PACKAGES: Record<string, string> = {
  'kafka.strimzi.io': '@kubernetes-models/strimzi-kafka-operator',
  'core.strimzi.io': '@kubernetes-models/strimzi-kafka-operator',
  'postgresql.cnpg.io': '@kubernetes-models/cloudnative-pg',
  'keda.sh': '@kubernetes-models/keda',
  'external-secrets.io': '@kubernetes-models/external-secrets',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

const NODE_MODULES = join(dirname(require.resolve('typescript/package.json')), '..');

/** The module declaring an apiVersion/kind's interface, or undefined when no package has it. */
export function schemaModule(apiVersion: string, kind: string): string | undefined {
  const [group = '', version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (!/^[A-Za-z0-9]+$/.test(kind) || !version) return undefined;
  const path =
    group === ''
      ? `kubernetes-models/${version}/${kind}`
      : `${PACKAGES[group] ?? 'kubernetes-models'}/${group}/${version}/${kind}`;
  return existsSync(join(NODE_MODULES, `${path}.d.ts`)) ? path : undefined;
}

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  types: [],
  skipLibCheck: true,
};
/** Inside the repository, so that the packages resolve from its node_modules. */
const VIRTUAL = join(NODE_MODULES, '..', 'deploy/k8s/validate/__objects__.ts');

/** The declaration files never change during a run: parse each once, however many checks run. */
const cache = new Map<string, ts.SourceFile>();
const host = ts.createCompilerHost(OPTIONS);
const readSourceFile = host.getSourceFile.bind(host);
let source = '';
host.getSourceFile = (file, language, onError) => {
  if (file === VIRTUAL) return ts.createSourceFile(file, source, language, true);
  let sf = cache.get(file);
  if (!sf) {
    sf = readSourceFile(file, language, onError);
    if (sf) cache.set(file, sf);
  }
  return sf;
};
const fileExists = host.fileExists.bind(host);
host.fileExists = (file) => file === VIRTUAL || fileExists(file);
let previous: ts.Program | undefined;

export function checkSchemas(overlay: string, objects: readonly K8sObject[]): Problem[] {
  const problems: Problem[] = [];
  const imports: string[] = [];
  const lines: string[] = [];
  /** The first line of each object's literal, to tell which object a diagnostic is about. */
  const starts: { line: number; object: K8sObject }[] = [];
  const typeOf = new Map<string, string>();
  let line = 0;
  objects.forEach((o, i) => {
    const module = schemaModule(String(o.apiVersion), String(o.kind));
    if (!module) {
      problems.push({ overlay, object: ref(o), message: `no schema for ${String(o.apiVersion)} ${String(o.kind)}` });
      return;
    }
    let alias = typeOf.get(module);
    if (!alias) {
      alias = `T${typeOf.size}`;
      typeOf.set(module, alias);
      imports.push(`import type { I${o.kind} as ${alias} } from '${module}';`);
    }
    const text = `export const o${i}: ${alias} = ${JSON.stringify(o, null, 1)};`;
    starts.push({ line, object: o });
    lines.push(text);
    line += text.split('\n').length;
  });
  source = [...lines, ...imports].join('\n');
  const program = ts.createProgram([VIRTUAL], OPTIONS, host, previous);
  previous = program;
  const file = program.getSourceFile(VIRTUAL)!;
  for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
    const at = d.start === undefined ? 0 : file.getLineAndCharacterOfPosition(d.start).line;
    const object = [...starts].reverse().find((s) => s.line <= at)?.object;
    problems.push({
      overlay,
      object: object ? ref(object) : '(schema check)',
      message: `schema: ${fieldPath(file, d.start)}${readable(ts.flattenDiagnosticMessageText(d.messageText, ' '))}`,
    });
  }
  return problems;
}

/** The compiler's sentence without the quoting of JSON keys and with long inline types cut short. */
function readable(message: string): string {
  return message
    .replace(/\s+/g, ' ')
    .replace(/'"([^"']+)"'/g, "'$1'")
    .replace(/'(\{[^']{60})[^']*'/g, "'$1…'");
}

/** The property path to the node a diagnostic points at ("spec.template.spec: "), from the literal's syntax tree. */
function fieldPath(file: ts.SourceFile, start: number | undefined): string {
  if (start === undefined) return '';
  const path: string[] = [];
  let node: ts.Node | undefined = findNode(file, start);
  while (node && !ts.isVariableDeclaration(node)) {
    if (ts.isPropertyAssignment(node)) path.unshift(node.name.getText(file).replace(/^"|"$/g, ''));
    else if (ts.isArrayLiteralExpression(node.parent) && path.length > 0) {
      path[0] = `${String(node.parent.elements.indexOf(node as ts.Expression))}.${path[0] ?? ''}`;
    }
    node = node.parent;
  }
  return path.length > 0 ? `${path.join('.').replace(/\.(\d+)\./g, '[$1].')}: ` : '';
}

function findNode(node: ts.Node, position: number): ts.Node | undefined {
  for (const child of node.getChildren()) {
    if (child.getStart() <= position && position < child.getEnd()) return findNode(child, position) ?? child;
  }
  return undefined;
}
