import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The client settings deploy/local/kafka.sh writes for a principal of the local broker
 * (<run dir>/credentials/kafka-<principal>.env: KAFKA_BROKERS, KAFKA_SECURITY_PROTOCOL,
 * KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_CA_FILE…), or undefined when
 * there is no such file. The principals are the services' names, admin and observer.
 */
export function localKafkaCredentials(runDir: string, principal: string): Record<string, string> | undefined {
  const file = join(runDir, 'credentials', `kafka-${principal}.env`);
  if (!existsSync(file)) return undefined;
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0 && !line.startsWith('#')) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}
