// Type-checked lint for every TypeScript project, plus Nx module boundaries:
// services may use libs, libs never use services, domain code uses no infrastructure.
const nx = require('@nx/eslint-plugin');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

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
  'node:*',
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
              bannedExternalImports: INFRASTRUCTURE,
            },
            { sourceTag: 'type:schema', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
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
    // CLIs, benchmarks and local tooling talk to a terminal.
    files: ['services/cli/**/*.ts', 'bench/**/*.ts', 'deploy/**/*.ts', 'schemas/scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
