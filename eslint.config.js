// Type-checked lint for every TypeScript project, plus Nx module boundaries:
// services may use libs, libs never use services, domain code uses no infrastructure.
const { execFileSync } = require('node:child_process');
const { dirname, join } = require('node:path');
const { readCachedProjectGraph } = require('@nx/devkit');
const nx = require('@nx/eslint-plugin');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

/**
 * @nx/enforce-module-boundaries reads the project graph Nx caches under .nx/ and, when there is none
 * (a fresh clone, after `nx reset`), prints a warning and checks nothing. So the graph is computed
 * here, before any file is linted, and is current with the sources being linted; when Nx cannot
 * compute it, or it has no edges between projects (source analysis off), lint fails instead.
 */
function ensureProjectGraph() {
  const nxBin = join(dirname(require.resolve('nx/package.json')), require('nx/package.json').bin.nx);
  execFileSync(process.execPath, [nxBin, 'show', 'projects'], { cwd: __dirname, stdio: ['ignore', 'ignore', 'inherit'] });
  const graph = readCachedProjectGraph();
  const edges = Object.values(graph.dependencies).some((deps) => deps.some((d) => d.target in graph.nodes));
  if (!edges) {
    throw new Error(
      'The Nx project graph has no dependencies between projects, so module boundaries would check nothing: ' +
        'nx.json must keep pluginsConfig["@nx/js"].analyzeSourceFiles on.',
    );
  }
}
ensureProjectGraph();

const INFRASTRUCTURE = [
  'pg',
  'pg-*',
  'kafkajs',
  'drizzle-orm',
  'drizzle-orm/*',
  '@nestjs/*',
  'fastify',
  'prom-client',
  'pino',
  'avsc',
  '@kafkajs/*',
];

/**
 * SQL naming a group's tables (FROM, JOIN, INTO, UPDATE, in a string or a template) is an error
 * outside the group's owners. ESLint keeps the last setting of a rule a file matches, so the
 * first config forbids every group everywhere and each owner's config then forbids the others.
 */
function tableOwners(groups) {
  const left = ['**/*.spec.ts', '**/test-support/**', 'libs/testing/**', 'libs/platform/src/database-roles.ts'];
  const forbid = (forbidden) => [
    'error',
    ...forbidden.flatMap(({ owners, tables, use }) => {
      const sql = `/\\b(FROM|JOIN|INTO|UPDATE)\\s+("?public"?\\.)?"?(${tables.join('|')})\\b/i`;
      const message = `${tables.join(', ')} belong to ${owners.join(' and ')}: read them through ${use}.`;
      return [
        { selector: `Literal[value=${sql}]`, message },
        { selector: `TemplateElement[value.raw=${sql}]`, message },
      ];
    }),
  ];
  return [
    {
      files: ['services/**/*.ts', 'libs/**/*.ts', 'projections/**/*.ts', 'schemas/**/*.ts'],
      ignores: left,
      rules: { 'no-restricted-syntax': forbid(groups) },
    },
    ...groups.map((group) => ({
      files: group.owners.map((o) => `${o}/*.ts`),
      ignores: left,
      rules: { 'no-restricted-syntax': forbid(groups.filter((g) => g !== group)) },
    })),
  ];
}

module.exports = tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.run/**',
      '.nx/**',
      'coverage/**',
      'schemas/src/generated.ts',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
      '**/drizzle.config.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      // async callbacks satisfy Promise-returning contracts without awaiting anything.
      '@typescript-eslint/require-await': 'off',
      'no-console': ['error', { allow: ['error'] }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          enforceBuildableLibDependency: false,
          // The test helpers use the libraries they help test (db, messaging, platform), and those
          // libraries' spec files use the helpers: a cycle of spec files only, since no library
          // source outside its specs may import @sluice/testing (no-restricted-imports below).
          ignoredCircularDependencies: [['testing', '*']],
          depConstraints: [
            {
              sourceTag: 'type:service',
              onlyDependOnLibsWithTags: ['type:lib', 'type:util', 'type:domain', 'type:schema', 'type:projection'],
            },
            { sourceTag: 'type:projection', onlyDependOnLibsWithTags: ['type:lib', 'type:util', 'type:domain', 'type:schema'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:util', 'type:schema'] },
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain', 'type:util', 'type:schema'],
              bannedExternalImports: [...INFRASTRUCTURE, 'node:*'],
            },
            { sourceTag: 'type:schema', onlyDependOnLibsWithTags: [] },
            // Ids and errors: Node's own modules (crypto) but no infrastructure client.
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'], bannedExternalImports: INFRASTRUCTURE },
            {
              sourceTag: 'type:bench',
              onlyDependOnLibsWithTags: ['type:lib', 'type:util', 'type:domain', 'type:schema', 'type:projection'],
            },
            { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: ['type:lib', 'type:util', 'type:schema'] },
          ],
        },
      ],
    },
  },
  {
    // Tests may use the test helpers and reach into what they test.
    files: ['**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'off',
    },
  },
  {
    // Test helpers stay out of what ships: only specs (and services' own test support) use them.
    files: ['libs/**/*.ts', 'projections/**/*.ts', 'schemas/**/*.ts'],
    ignores: ['**/*.spec.ts', 'libs/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@sluice/testing', message: 'Test helpers are for spec files; library code must not ship them.' }] },
      ],
    },
  },
  // A table's SQL lives in the package that owns it; others call that package's read functions
  // (docs/architecture/contracts.md). Tests and their support, benchmarks and the role grants
  // (which name every table) are left out.
  ...tableOwners([
    {
      owners: ['services/projector/**', 'projections/kit/**'],
      tables: ['projections', 'projection_versions', 'projection_checkpoints'],
      use: 'the catalog functions of @sluice/projection-kit (projections/kit/src/catalog.ts)',
    },
    { owners: ['projections/wallet/**'], tables: ['wallet_balances'], use: "@sluice/projection-wallet's readers" },
    { owners: ['projections/transactions/**'], tables: ['wallet_transactions'], use: "@sluice/projection-transactions' readers" },
    { owners: ['projections/withdrawals/**'], tables: ['withdrawal_status'], use: "@sluice/projection-withdrawals' readers" },
    {
      owners: ['services/command-api/**', 'libs/wallet-store/**'],
      tables: ['wallets', 'deposits', 'withdrawals'],
      use: '@sluice/wallet-store',
    },
  ]),
  {
    // CLIs, benchmarks and local tooling talk to a terminal.
    files: ['services/cli/**/*.ts', 'bench/**/*.ts', 'deploy/**/*.ts', 'schemas/scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
