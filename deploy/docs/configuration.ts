import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { DEVELOPMENT_CONVENIENCES, SECRET_SETTINGS, type z } from '@sluice/config';
/* eslint-disable @nx/enforce-module-boundaries -- as deploy/k8s/manifests.unit.spec.ts: deployment tooling reads
   the services' own configuration schemas, which are application code, not libraries */
import { bonusServiceConfig } from '../../services/bonus-service/src/config';
import { commandApiConfig } from '../../services/command-api/src/config';
import { relayConfig } from '../../services/outbox-relay/src/config';
import { paymentsWorkerConfig } from '../../services/payments-worker/src/config';
import { projectorConfig } from '../../services/projector/src/config';
import { toolsConfig } from '../../services/projector/src/tools/config';
import { pspSimulatorConfig } from '../../services/psp-simulator/src/config';
import { queryApiConfig } from '../../services/query-api/src/config';
/* eslint-enable @nx/enforce-module-boundaries */
import { localEdgeEnv } from '../local/edge-config';

/**
 * docs/configuration.md, generated from the schemas each process parses its environment with
 * (loadConfig): names, types and defaults from the zod schemas themselves, descriptions from the
 * doc comments beside them in the source. Generated, so the reference cannot drift from the code;
 * configuration.unit.spec.ts fails when the committed file differs from what this renders.
 *
 *   node dist/deploy/docs/configuration.js .      (after make build; from the repository root)
 */
export const REGENERATE = 'make build && node dist/deploy/docs/configuration.js .';

interface Section {
  title: string;
  /** What the section configures, in one sentence. */
  intro: string;
  schema: z.ZodType;
  /** Where the schema is declared, looked in first for descriptions (repository-relative). */
  sources: string[];
}

const SECTIONS: Section[] = [
  {
    title: 'command-api',
    intro: 'The command API: HTTP commands, group commit, the outbox writer, internal commands over Kafka.',
    schema: commandApiConfig,
    sources: ['services/command-api/src/config.ts'],
  },
  {
    title: 'outbox-relay',
    intro: 'The relay from the outbox (WAL or polling) to Kafka.',
    schema: relayConfig,
    sources: ['services/outbox-relay/src/config.ts'],
  },
  {
    title: 'projector',
    intro: 'The projector that folds the wallet events into the read models.',
    schema: projectorConfig,
    sources: ['services/projector/src/config.ts'],
  },
  {
    title: 'projector tools',
    intro: '`sluice projection …` and `sluice dlq …` (rebuild, replay, switch, dead letters), run in the CLI process.',
    schema: toolsConfig,
    sources: ['services/projector/src/tools/config.ts', 'services/projector/src/config.ts'],
  },
  {
    title: 'query-api',
    intro: 'The query API: read models, read-your-writes, the status push.',
    schema: queryApiConfig,
    sources: ['services/query-api/src/config.ts'],
  },
  {
    title: 'payments-worker',
    intro: 'The payments worker: the withdrawal saga, provider calls, webhooks, its command outbox.',
    schema: paymentsWorkerConfig,
    sources: ['services/payments-worker/src/config.ts'],
  },
  {
    title: 'bonus-service',
    intro: 'The bonus service: a welcome bonus for every new wallet, sent as an internal command.',
    schema: bonusServiceConfig,
    sources: ['services/bonus-service/src/config.ts'],
  },
  {
    title: 'psp-simulator',
    intro: 'The payment provider stand-in; the fault settings are their values at start (`PUT /admin/faults` changes them).',
    schema: pspSimulatorConfig,
    sources: ['services/psp-simulator/src/config.ts'],
  },
  {
    title: 'edge (local)',
    intro: 'The local edge proxy, read by `deploy/local/edge.sh` when it renders nginx.conf.',
    schema: localEdgeEnv,
    sources: ['deploy/local/edge-config.ts'],
  },
];

/** Libraries whose shared settings (commonEnv, kafkaSecurityEnv, authEnv, …) the services spread into their schemas. */
const SHARED_SOURCE_DIRS = ['libs/config/src', 'libs/auth/src', 'libs/messaging/src'];

const SETTING_NAME = /^[A-Z][A-Z0-9_]*$/;
const BOOLEAN_WORDS = ['true', 'false', '1', '0', 'yes', 'no'];

/** The repository root: the nearest directory above this file holding nx.json (from the source or from dist/). */
export function repositoryRoot(from = __dirname): string {
  let dir = resolve(from);
  while (!existsSync(join(dir, 'nx.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no nx.json above ${from}: run from inside the Sluice repository`);
    dir = up;
  }
  return dir;
}

/**
 * The doc comments of the settings declared in a file: properties named like environment variables
 * in an object passed to z.object(...), or held by a variable or returned by a function whose name
 * ends in Env (commonEnv, kafkaSecurityEnv, commandSenderEnv(), …). Other objects with such keys
 * (process descriptions, test fixtures) are not schemas and are left out.
 */
export function settingDescriptions(file: string, text: string): Map<string, string> {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = new Map<string, string>();
  const isSchemaObject = (node: ts.ObjectLiteralExpression): boolean => {
    const parent = node.parent;
    if (ts.isCallExpression(parent)) return /(^|\.)object$/.test(parent.expression.getText(source));
    if (ts.isVariableDeclaration(parent)) return /Env$/.test(parent.name.getText(source));
    if (ts.isReturnStatement(parent) || ts.isParenthesizedExpression(parent) || ts.isArrowFunction(parent)) {
      let fn: ts.Node | undefined = parent;
      while (fn && !ts.isFunctionDeclaration(fn) && !ts.isArrowFunction(fn)) fn = fn.parent;
      const name = fn && ts.isFunctionDeclaration(fn) ? fn.name?.getText(source) : undefined;
      return name !== undefined && /Env$/.test(name);
    }
    return false;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node) && isSchemaObject(node)) {
      for (const property of node.properties) {
        if (!ts.isPropertyAssignment(property) || !ts.isIdentifier(property.name)) continue;
        const name = property.name.text;
        if (!SETTING_NAME.test(name) || found.has(name)) continue;
        const docs = ts.getJSDocCommentsAndTags(property).filter(ts.isJSDoc);
        const comment = docs
          .map((d) => ts.getTextOfJSDocComment(d.comment) ?? '')
          .join(' ')
          .replace(/\s+/g, ' ')
          .trim();
        if (comment) found.set(name, comment);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sharedSourceFiles(root: string): string[] {
  return SHARED_SOURCE_DIRS.flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .sort()
      .map((f) => `${dir}/${f}`),
  );
}

interface Setting {
  name: string;
  type: string;
  default: string;
  description: string;
}

type Def = { type: string; [key: string]: unknown };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

interface Shape {
  type: string;
  defaultValue?: unknown;
  optional: boolean;
}

/** The type a person writes in the environment, its default and whether it may be left unset. */
function shapeOf(schema: z.ZodType): Shape {
  const def = defOf(schema);
  switch (def.type) {
    case 'default': {
      const inner = shapeOf(def.innerType as z.ZodType);
      return { ...inner, defaultValue: def.defaultValue };
    }
    case 'optional':
      return { ...shapeOf(def.innerType as z.ZodType), optional: true };
    case 'pipe': {
      const input = shapeOf(def.in as z.ZodType);
      const out = defOf(def.out as z.ZodType);
      // A number narrowed again after coercion (rates: at least 0, then at most 1).
      if (out.type === 'number' && input.type.startsWith('number')) return { ...input, type: numberType(def.out as z.ZodType) };
      return input;
    }
    case 'number':
      return { type: numberType(schema), optional: false };
    case 'string':
      return { type: stringType(schema), optional: false };
    case 'boolean':
      return { type: 'boolean', optional: false };
    case 'enum': {
      const values = Object.values(def.entries as Record<string, string>);
      const boolean = values.length === BOOLEAN_WORDS.length && values.every((v) => BOOLEAN_WORDS.includes(v));
      return { type: boolean ? 'boolean' : `one of ${values.map((v) => code(v)).join(', ')}`, optional: false };
    }
    case 'literal': {
      const values = def.values as unknown[];
      return { type: values.map((v) => (v === '' ? 'empty' : code(String(v)))).join(' or '), optional: false };
    }
    case 'union':
      return { type: (def.options as z.ZodType[]).map((o) => shapeOf(o).type).join(' or '), optional: false };
    default:
      return { type: def.type, optional: false };
  }
}

function numberType(schema: z.ZodType): string {
  const n = schema as unknown as { minValue: number | null; maxValue: number | null; isInt: boolean };
  const kind = n.isInt ? 'integer' : 'number';
  const min = n.minValue !== null && Number.isFinite(n.minValue) ? n.minValue : undefined;
  const max = n.maxValue !== null && Number.isFinite(n.maxValue) && n.maxValue < Number.MAX_SAFE_INTEGER ? n.maxValue : undefined;
  if (min !== undefined && max !== undefined) return `${kind}, ${min}–${max}`;
  if (min !== undefined) return `${kind} ≥ ${min}`;
  if (max !== undefined) return `${kind} ≤ ${max}`;
  return kind;
}

function stringType(schema: z.ZodType): string {
  const s = schema as unknown as { format: string | null; minLength: number | null };
  if (s.format === 'url') return 'URL';
  const checks = (defOf(schema).checks ?? []) as { _zod: { def: { format?: string; pattern?: RegExp } } }[];
  const pattern = checks.map((c) => c._zod.def).find((d) => d.format === 'regex')?.pattern;
  if (pattern) return `string matching ${code(String(pattern))}`;
  return s.minLength !== null && s.minLength > 0 ? 'non-empty string' : 'string';
}

function scalar(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : JSON.stringify(value);
}

function code(text: string): string {
  return `\`${text}\``;
}

/**
 * A table cell of prose: one line; outside code spans, angle brackets and asterisks are escaped
 * (they would open HTML or emphasis), and pipes everywhere (they would end the cell).
 */
const cell = (text: string): string =>
  text
    .replace(/\n/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part : part.replace(/[<>*]/g, (c) => `\\${c}`)))
    .join('')
    .replace(/\|/g, '\\|');
/** Code spans keep their text; only a pipe needs escaping inside a table. */
const codeCell = (text: string): string => text.replace(/\|/g, '\\|');

function settingsOf(section: Section, describe: (name: string) => string): Setting[] {
  const shape = (section.schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
  if (!shape) throw new Error(`${section.title}: its schema is not a z.object, so its settings cannot be listed`);
  return Object.entries(shape).map(([name, field]) => {
    const s = shapeOf(field);
    const list = (() => {
      const parsed = field.safeParse(s.defaultValue);
      return parsed.success && Array.isArray(parsed.data);
    })();
    let type = list ? `comma-separated list` : s.type;
    if (name in SECRET_SETTINGS) type += `; secret, or a file in ${code(`${name}_FILE`)}`;
    let shown: string;
    if (s.defaultValue === undefined) shown = s.optional ? 'unset' : 'required';
    else if (s.defaultValue === '') shown = 'empty';
    else shown = code(scalar(s.defaultValue));
    if (DEVELOPMENT_CONVENIENCES.includes(name)) shown += ` (${code('false')} with ${code('SLUICE_ENV=production')})`;
    return { name, type, default: shown, description: describe(name) };
  });
}

/** The Markdown of docs/configuration.md, before formatting. */
export function renderConfigurationMarkdown(root: string): string {
  const read = (files: string[]) => files.map((f) => settingDescriptions(f, readFileSync(join(root, f), 'utf8')));
  const shared = read(sharedSourceFiles(root));
  const out: string[] = [
    '# Configuration reference',
    '',
    "<!-- Generated by deploy/docs/configuration.ts from the services' config schemas: do not edit by hand. -->",
    `<!-- Regenerate: ${REGENERATE} -->`,
    '',
    'Every process parses its environment once at start-up against its schema (`src/config.ts`, through',
    "`libs/config`'s `loadConfig`) and stops, listing every problem, when a setting is wrong. The tables below",
    'are generated from those schemas: the name, the type the value must have, the default, and the doc comment',
    'beside the setting in the source (empty where the source has none). Rules between settings (a heartbeat',
    'below a third of the session timeout, say) are checked at start-up too; they are in the same files.',
    '',
    `- Settings marked secret may be given as a file instead (${code('X_FILE')}; setting both is refused). With`,
    `  ${code('SLUICE_ENV=production')} (the default when unset) a secret that is missing or a development default`,
    '  stops the service: see [security](security.md).',
    `- ${DEVELOPMENT_CONVENIENCES.map(code).join(', ')} are ${code('false')} in production unless set.`,
    '- The settings each service spreads in from the libraries (`commonEnv`, `kafkaSecurityEnv`, `httpServerEnv`,',
    "  `consumerEnv`, `authEnv`, …) appear in every table that has them, with that service's defaults.",
    '',
    SECTIONS.map((s) => `- [${s.title}](#${anchor(s.title)})`).join('\n'),
    '',
  ];
  for (const section of SECTIONS) {
    const own = read(section.sources);
    const describe = (name: string) => [...own, ...shared].find((m) => m.has(name))?.get(name) ?? '';
    out.push(`## ${section.title}`, '', `${section.intro} Schema: ${section.sources.map((f) => code(f)).join(', ')}.`, '');
    out.push('| variable | type | default | description |', '| --- | --- | --- | --- |');
    for (const s of settingsOf(section, describe)) {
      out.push(`| ${code(s.name)} | ${codeCell(s.type)} | ${codeCell(s.default)} | ${cell(s.description)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** GitHub's heading anchor: lower case, punctuation but - and _ dropped, spaces as -. */
function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

/** docs/configuration.md as committed: the Markdown through the repository's prettier settings. */
export function renderConfigurationReference(root: string): string {
  const prettier = join(dirname(require.resolve('prettier/package.json')), 'bin/prettier.cjs');
  return execFileSync(process.execPath, [prettier, '--stdin-filepath', 'docs/configuration.md'], {
    cwd: root,
    input: renderConfigurationMarkdown(root),
    encoding: 'utf8',
  });
}

function main(root = resolve(process.argv[2] ?? '.')): void {
  const file = join(root, 'docs/configuration.md');
  writeFileSync(file, renderConfigurationReference(root));
  process.stderr.write(`wrote ${file}\n`);
}

if (require.main === module) main();
