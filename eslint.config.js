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
  {
    // CLIs, benchmarks and local tooling talk to a terminal.
    files: ['services/cli/**/*.ts', 'bench/**/*.ts', 'deploy/**/*.ts', 'schemas/scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
