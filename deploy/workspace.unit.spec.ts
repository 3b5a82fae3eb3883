import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const json = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as Record<string, Record<string, unknown>>;

describe('workspace', () => {
  it('.swcrc resolves the same path aliases as tsconfig.base.json (the build and the type-checker agree)', () => {
    const ts = json('tsconfig.base.json').compilerOptions!.paths;
    const swc = (json('.swcrc').jsc as { paths: unknown }).paths;
    expect(swc).toEqual(ts);
  });
});

/**
 * Module boundaries are enforced from a clean checkout: each case is source that is never
 * written to disk, linted as if it were the named file, with an empty Nx cache directory so the
 * project graph must be computed (as on a fresh clone, where the rule used to skip itself).
 */
describe('module boundaries', () => {
  const cases = {
    libImportsServiceByPath: {
      file: 'libs/db/src/boundary-probe.ts',
      code: "import { commandApiConfig } from '../../../services/command-api/src/config';\nexport const probe = commandApiConfig;\n",
    },
    libImportsLibByPath: {
      file: 'libs/db/src/boundary-probe.ts',
      code: "import { uuidv7 } from '../../core/src/ids';\nexport const probe = uuidv7;\n",
    },
    utilImportsSchemas: {
      file: 'libs/core/src/boundary-probe.ts',
      code: "import { walletCatalog } from '@sluice/schemas';\nexport const probe = walletCatalog;\n",
    },
    domainImportsInfrastructure: {
      file: 'libs/wallet-domain/src/boundary-probe.ts',
      code: "import { Pool } from 'pg';\nexport const probe = Pool;\n",
    },
    libShipsTestHelpers: {
      file: 'libs/db/src/boundary-probe.ts',
      code: "import { waitFor } from '@sluice/testing';\nexport const probe = waitFor;\n",
    },
    allowed: {
      file: 'libs/db/src/boundary-probe.ts',
      code: "import { uuidv7 } from '@sluice/core';\nexport const probe = uuidv7;\n",
    },
  };
  // Only the boundary rules run, without type information: the probes are not files the
  // TypeScript project knows, and the other rules are not what this checks.
  const driver = `
    const { ESLint } = require('eslint');
    const cases = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({
        cwd: process.cwd(),
        overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
        ruleFilter: ({ ruleId }) => ruleId === '@nx/enforce-module-boundaries' || ruleId === 'no-restricted-imports',
      });
      const out = {};
      for (const [name, c] of Object.entries(cases)) {
        const [result] = await eslint.lintText(c.code, { filePath: c.file });
        out[name] = result.messages.map((m) => (m.ruleId ?? 'fatal') + ': ' + m.message);
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { console.error(err); process.exit(2); });`;
  let messages: Record<keyof typeof cases, string[]>;

  beforeAll(() => {
    const nxCache = mkdtempSync(join(tmpdir(), 'sluice-nx-'));
    try {
      const stdout = execFileSync(process.execPath, ['-e', driver, JSON.stringify(cases)], {
        cwd: root,
        env: { ...process.env, NX_WORKSPACE_DATA_DIRECTORY: nxCache, NX_DAEMON: 'false' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      messages = JSON.parse(stdout) as typeof messages;
    } finally {
      rmSync(nxCache, { recursive: true, force: true });
    }
  }, 120_000);

  it('rejects a library importing a service by relative path', () => {
    expect(messages.libImportsServiceByPath).toEqual([
      expect.stringMatching(/^@nx\/enforce-module-boundaries: Projects cannot be imported by a relative or absolute path/),
    ]);
  });

  it('rejects a relative import into another library', () => {
    expect(messages.libImportsLibByPath).toEqual([
      expect.stringMatching(/^@nx\/enforce-module-boundaries: Projects cannot be imported by a relative or absolute path/),
    ]);
  });

  it('rejects the util library depending on anything but util libraries', () => {
    expect(messages.utilImportsSchemas).toEqual([
      expect.stringContaining('A project tagged with "type:util" can only depend on libs tagged with "type:util"'),
    ]);
  });

  it('rejects the domain importing a database client', () => {
    expect(messages.domainImportsInfrastructure).toEqual([
      expect.stringContaining('A project tagged with "type:domain" is not allowed to import "pg"'),
    ]);
  });

  it('rejects library code importing the test helpers', () => {
    expect(messages.libShipsTestHelpers).toEqual([expect.stringMatching(/^no-restricted-imports: .*@sluice\/testing/)]);
  });

  it('lets a library import another through its alias', () => {
    expect(messages.allowed).toEqual([]);
  });
});
