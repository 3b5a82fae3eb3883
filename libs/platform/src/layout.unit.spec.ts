import { devAuthEnv } from './dev-auth';
import { namespaceEnv, parseReplicas, platformProcesses } from './layout';

describe('platform layout', () => {
  it('runs one process of every service on its default port in development, with nothing but ports set', () => {
    const procs = platformProcesses();
    expect(procs.map((p) => [p.name, p.port])).toEqual([
      ['command-api', 3000],
      ['outbox-relay', 3010],
      ['projector', 3011],
      ['query-api', 3001],
      ['bonus-service', 3020],
      ['psp-simulator', 3002],
      ['payments-worker', 3030],
    ]);
    expect(procs[0]!.env).toEqual({
      SLUICE_ENV: 'development',
      PORT: '3000',
      PSP_URL: 'http://127.0.0.1:3002',
      PSP_WEBHOOK_URL: 'http://127.0.0.1:3030/v1/psp/webhooks',
    });
  });

  it('tells every process to trust the issuer it is given (the local dev issuer and its JWKS file)', () => {
    const auth = devAuthEnv('/srv/sluice/.run');
    expect(auth).toEqual({
      AUTH_ISSUER: 'http://127.0.0.1/sluice-dev-issuer',
      AUTH_AUDIENCE: 'sluice',
      AUTH_JWKS_FILE: '/srv/sluice/.run/auth/jwks.json',
    });
    for (const p of platformProcesses({ auth })) expect(p.env).toMatchObject(auth);
  });

  it("gives each process its own service's Kafka principal, and none to a service without one", () => {
    const kafka = (service: string) =>
      service === 'psp-simulator' ? undefined : { KAFKA_SASL_USERNAME: `sluice-${service}`, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' };
    const procs = platformProcesses({ replicas: 2, kafka });
    expect(procs.find((p) => p.name === 'projector-2')?.env.KAFKA_SASL_USERNAME).toBe('sluice-projector');
    expect(procs.find((p) => p.name === 'outbox-relay')?.env.KAFKA_SASL_USERNAME).toBe('sluice-outbox-relay');
    expect(procs.find((p) => p.name === 'psp-simulator')?.env.KAFKA_SASL_USERNAME).toBeUndefined();
  });

  it('runs replica i of each scalable service 100·i ports up, and the PSP simulator once', () => {
    const procs = platformProcesses({ replicas: 2 });
    expect(procs).toHaveLength(13);
    expect(procs.filter((p) => p.service.name === 'psp-simulator').map((p) => p.port)).toEqual([3002]);
    expect(procs.filter((p) => p.service.name === 'command-api').map((p) => [p.name, p.port])).toEqual([
      ['command-api', 3000],
      ['command-api-2', 3100],
    ]);
  });

  it('gives a namespace its own database, names and ports, and points services at each other there', () => {
    const ns = { id: 'bench_x1', databaseUrl: 'postgres://postgres@127.0.0.1:5432/bench_x1', portOffset: 10_000 };
    const worker = platformProcesses({ namespace: ns }).find((p) => p.name === 'payments-worker')!;
    expect(worker.port).toBe(13_030);
    expect(worker.env).toMatchObject({
      ...namespaceEnv(ns),
      PSP_URL: 'http://127.0.0.1:13002',
      PSP_WEBHOOK_URL: 'http://127.0.0.1:13030/v1/psp/webhooks',
    });
    expect(namespaceEnv(ns).OUTBOX_SLOT_NAME).toBe('bench_x1_outbox');
    expect(() => namespaceEnv({ ...ns, id: 'Bench-1' })).toThrow(RangeError);
  });

  it('with database roles, gives each service its own role and no migrations at start', () => {
    const procs = platformProcesses({ roles: { databaseUrl: 'postgres://postgres@127.0.0.1:5432/sluice' } });
    const env = (name: string) => procs.find((p) => p.name === name)!.env;
    expect(env('command-api')).toMatchObject({
      DATABASE_URL: 'postgres://sluice_command_api@127.0.0.1:5432/sluice',
      MIGRATE_ON_START: 'false',
      OUTBOX_ENSURE_SLOT: 'false',
    });
    expect(env('query-api').DATABASE_URL).toBe('postgres://sluice_query_api@127.0.0.1:5432/sluice');
    expect(env('outbox-relay').DATABASE_URL).toBe('postgres://sluice_outbox_relay@127.0.0.1:5432/sluice');
    expect(env('psp-simulator').DATABASE_URL).toBeUndefined();
  });

  it('reads SLUICE_REPLICAS as 1..9, unset as 1', () => {
    expect(parseReplicas(undefined)).toBe(1);
    expect(parseReplicas('2')).toBe(2);
    expect(() => parseReplicas('0')).toThrow(RangeError);
    expect(() => parseReplicas('two')).toThrow(RangeError);
  });
});
