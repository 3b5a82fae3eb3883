import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@sluice/testing';

/**
 * The built services as a deployment starts them: in production mode (the
 * default) without the access-token issuer's settings they refuse to start,
 * naming what is missing, instead of serving unauthenticated or trusting a default.
 */
function start(service: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const entry = join(repoRoot(), 'dist/services', service, 'src/main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`make build\` (make test builds first)`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [entry],
      // Nothing inherited: no SLUICE_ENV or AUTH_* of the test run's environment leaks in.
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
}

describe('start-up without authentication settings', () => {
  it.each(['command-api', 'query-api'])('%s in production mode exits 1, naming the missing issuer settings', async (service) => {
    const { code, stderr } = await start(service, { PORT: '0', LOG_LEVEL: 'error' });
    expect(code).toBe(1);
    expect(stderr).toContain('AUTH_ISSUER is required outside development');
    expect(stderr).toContain('AUTH_AUDIENCE is required outside development');
    expect(stderr).toContain('AUTH_JWKS_URL (or AUTH_JWKS_FILE) is required outside development');
  });

  it('refuses a plain-HTTP key-set URL in production', async () => {
    const { code, stderr } = await start('query-api', {
      AUTH_ISSUER: 'https://id.example.com/',
      AUTH_AUDIENCE: 'sluice-api',
      AUTH_JWKS_URL: 'http://id.example.com/jwks.json',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('AUTH_JWKS_URL must be https outside development');
  });
});
