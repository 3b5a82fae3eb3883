import {
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
 * With the run directory (the supervisor's), each service connects to Kafka as its own
 * principal, with the settings the local broker wrote for it (services without Kafka have none).
 */
export function localServices(env: Record<string, string | undefined> = process.env, runDir?: string): readonly LocalService[] {
  return platformProcesses({ replicas: parseReplicas(env.SLUICE_REPLICAS) }).map((p) => ({
    ...p,
    env: { ...(runDir !== undefined && localKafkaCredentials(runDir, p.service.name)), ...p.env },
  }));
}

// `node dist/deploy/local/services.js ports` prints the ports, one a line (for platform.sh).
if (require.main === module && process.argv[2] === 'ports') {
  process.stdout.write(
    `${localServices()
      .map((s) => `${s.name}:${s.port}`)
      .join('\n')}\n`,
  );
}
