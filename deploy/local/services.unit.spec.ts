import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localServices } from './services';

describe('localServices', () => {
  let runDir: string;
  beforeAll(() => {
    runDir = mkdtempSync(join(tmpdir(), 'sluice-run-'));
    mkdirSync(join(runDir, 'credentials'));
    for (const principal of ['admin', 'command-api', 'projector']) {
      writeFileSync(
        join(runDir, 'credentials', `kafka-${principal}.env`),
        `KAFKA_SECURITY_PROTOCOL=SASL_SSL\nKAFKA_SASL_USERNAME=sluice-${principal}\nKAFKA_SASL_PASSWORD_FILE=/run/${principal}.password\n`,
      );
    }
  });
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));

  it('gives each service its own Kafka principal from the run directory', () => {
    const env = Object.fromEntries(localServices({ SLUICE_REPLICAS: '2' }, undefined, runDir).map((s) => [s.name, s.env]));
    expect(env['command-api']).toMatchObject({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'sluice-command-api' });
    expect(env['command-api-2']?.KAFKA_SASL_USERNAME).toBe('sluice-command-api');
    expect(env.projector?.KAFKA_SASL_PASSWORD_FILE).toBe('/run/projector.password');
  });

  it('gives no Kafka settings to a service without a principal, and none without a run directory', () => {
    expect(localServices({}, undefined, runDir).find((s) => s.name === 'psp-simulator')?.env.KAFKA_SASL_USERNAME).toBeUndefined();
    expect(localServices({}).find((s) => s.name === 'command-api')?.env.KAFKA_SASL_USERNAME).toBeUndefined();
  });
});
