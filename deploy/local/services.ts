import {
  devAuthEnv,
  ensureCommandKeys,
  localKafkaCredentials,
  parseReplicas,
  PLATFORM_SERVICES,
  platformProcesses,
  type PlatformProcess,
} from '@sluice/platform';

/**
 * The processes the local platform runs, in start order, with the port each
 * answers health on: libs/platform's description (the platform benchmark runs
 * the same), SLUICE_REPLICAS processes of each scalable service. The
 * supervisor, the demo and platform.sh read this list.
 */
export type LocalService = PlatformProcess;

/** The services, one entry each with its first process's port (what deploy/k8s deploys). */
export const LOCAL_SERVICES = PLATFORM_SERVICES;

/**
 * Each service connects as its own database role to SLUICE_DATABASE_URL's
 * database (platform.sh sets it after `sluice db roles` and `sluice migrate`);
 * unset, every service uses its defaults (and migrates at start). With
 * `keysDir`, the internal command key pairs are made there (once) and wired
 * into the services. With the run directory (the supervisor's), each service
 * connects to Kafka as its own principal, with the settings the local broker
 * wrote for it (services without Kafka have none), and every process trusts
 * the dev issuer kept there (see devIssuer).
 */
export function localServices(
  env: Record<string, string | undefined> = process.env,
  keysDir?: string,
  runDir?: string,
): readonly LocalService[] {
  const databaseUrl = env.SLUICE_DATABASE_URL;
  return platformProcesses({
    replicas: parseReplicas(env.SLUICE_REPLICAS),
    ...(databaseUrl && { roles: { databaseUrl } }),
    ...(keysDir !== undefined && { commandKeys: ensureCommandKeys(keysDir) }),
    ...(runDir !== undefined && {
      auth: devAuthEnv(runDir),
      kafka: (service: string) => localKafkaCredentials(runDir, service),
    }),
  });
}

// `node dist/deploy/local/services.js ports` prints the ports, one a line (for platform.sh).
if (require.main === module && process.argv[2] === 'ports') {
  process.stdout.write(
    `${localServices()
      .map((s) => `${s.name}:${s.port}`)
      .join('\n')}\n`,
  );
}
