import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ENTRY = join(__dirname, '../../../dist/services/payments-worker/src/main.js');

describe('payments worker in production mode', () => {
  it('exits non-zero, naming the secret, when PSP_WEBHOOK_SECRET is not set', () => {
    expect(existsSync(ENTRY)).toBe(true); // make test builds first; run `npm run build` otherwise
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      SLUICE_ENV: 'production',
      DATABASE_URL: 'postgres://sluice_payments_worker:a-password@127.0.0.1:5432/sluice?sslmode=verify-full',
    };
    const run = spawnSync(process.execPath, [ENTRY], { env, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('PSP_WEBHOOK_SECRET: is the public development default');
    expect(run.stderr).not.toContain('a-password');
  });
});
