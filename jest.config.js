// Test tiers by file suffix (STYLE.md): *.unit.spec.ts needs no services;
// *.int.spec.ts and *.e2e.spec.ts run against the real Kafka, registry and
// PostgreSQL that `make test` starts.
const fs = require('node:fs');

// The tests run the platform as local development (Sluice processes default to production's
// rules); processes they start inherit this. Tests of production's rules set it themselves.
process.env.SLUICE_ENV ??= 'development';
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
const transform = { '^.+\\.ts$': ['@swc/jest', { ...swcrc, swcrc: false, sourceMaps: 'inline' }] };
const common = {
  rootDir: __dirname,
  transform,
  testEnvironment: 'node',
  roots: [
    '<rootDir>/services',
    '<rootDir>/libs',
    '<rootDir>/schemas',
    '<rootDir>/projections',
    '<rootDir>/deploy',
    '<rootDir>/bench',
  ],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.unit.spec.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['**/*.int.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/libs/testing/src/jest-setup-int.ts'],
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['**/*.e2e.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/libs/testing/src/jest-setup-int.ts'],
      slowTestThreshold: 120,
    },
  ],
};
