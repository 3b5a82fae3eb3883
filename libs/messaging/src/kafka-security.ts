import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { commonEnv, ConfigError, env, z } from '@sluice/config';

export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type KafkaSecurityProtocol = (typeof KAFKA_SECURITY_PROTOCOLS)[number];
export const KAFKA_SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/**
 * How every Kafka client of a process reaches the brokers: the same names as the
 * Java client's security.protocol and sasl.mechanism. Services spread these into
 * their config schema and turn the result into a KafkaSecurity with kafkaSecurityFrom.
 */
export const kafkaSecurityEnv = {
  /** development allows a plaintext, credential-less broker; production refuses it (the same setting as commonEnv's). */
  SLUICE_ENV: commonEnv.SLUICE_ENV,
  KAFKA_SECURITY_PROTOCOL: z.enum(KAFKA_SECURITY_PROTOCOLS).default('PLAINTEXT'),
  KAFKA_SASL_MECHANISM: z.enum(KAFKA_SASL_MECHANISMS).default('SCRAM-SHA-512'),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** A file holding the password (a mounted Secret): loadConfig reads it into KAFKA_SASL_PASSWORD, as every X_FILE secret. */
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional(),
  /** PEM certificates the broker's certificate must chain to; the system's CAs when unset. */
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate and key, for brokers that require mutual TLS. */
  KAFKA_SSL_CERT_FILE: z.string().min(1).optional(),
  KAFKA_SSL_KEY_FILE: z.string().min(1).optional(),
  /** Outside development, a plaintext or unauthenticated connection refuses to start unless this is true. */
  KAFKA_ALLOW_INSECURE: env.bool(false),
};

export type KafkaSecuritySettings = z.infer<z.ZodObject<typeof kafkaSecurityEnv>>;

/** What a client needs to connect, with the files already read. */
export interface KafkaSecurity {
  protocol: KafkaSecurityProtocol;
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
  /** Present for SSL and SASL_SSL (empty: the system's CAs, no client certificate). */
  tls?: { ca?: string; cert?: string; key?: string };
}

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT' };

/**
 * Checks the settings as a whole and reads the certificate files they name;
 * throws a ConfigError listing every problem. Called once, at start-up, on
 * settings loadConfig parsed (which has read KAFKA_SASL_PASSWORD_FILE).
 */
export function kafkaSecurityFrom(
  settings: KafkaSecuritySettings,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): KafkaSecurity {
  const problems: string[] = [];
  const protocol = settings.KAFKA_SECURITY_PROTOCOL;
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const read = (name: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (err) {
      problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return undefined;
    }
  };

  let sasl: KafkaSecurity['sasl'];
  if (usesSasl) {
    const password = settings.KAFKA_SASL_PASSWORD;
    if (settings.KAFKA_SASL_USERNAME === undefined) problems.push(`KAFKA_SASL_USERNAME is required with ${protocol}`);
    if (password === undefined) problems.push(`KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE is required with ${protocol}`);
    if (settings.KAFKA_SASL_USERNAME !== undefined && password !== undefined) {
      sasl = { mechanism: settings.KAFKA_SASL_MECHANISM, username: settings.KAFKA_SASL_USERNAME, password };
    }
  } else if (settings.KAFKA_SASL_USERNAME !== undefined) {
    problems.push(`KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL ${protocol} does not authenticate with SASL`);
  }

  let tls: KafkaSecurity['tls'];
  const clientCert = settings.KAFKA_SSL_CERT_FILE !== undefined || settings.KAFKA_SSL_KEY_FILE !== undefined;
  if (usesTls) {
    if (clientCert && (settings.KAFKA_SSL_CERT_FILE === undefined || settings.KAFKA_SSL_KEY_FILE === undefined)) {
      problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together');
    }
    const ca = read('KAFKA_SSL_CA_FILE', settings.KAFKA_SSL_CA_FILE);
    const cert = read('KAFKA_SSL_CERT_FILE', settings.KAFKA_SSL_CERT_FILE);
    const key = read('KAFKA_SSL_KEY_FILE', settings.KAFKA_SSL_KEY_FILE);
    tls = { ...(ca !== undefined && { ca }), ...(cert !== undefined && { cert }), ...(key !== undefined && { key }) };
  } else if (settings.KAFKA_SSL_CA_FILE !== undefined || clientCert) {
    problems.push(`KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL ${protocol} does not use TLS`);
  }

  const authenticated = usesSasl || (usesTls && settings.KAFKA_SSL_CERT_FILE !== undefined);
  if (settings.SLUICE_ENV !== 'development' && !(usesTls && authenticated) && !settings.KAFKA_ALLOW_INSECURE) {
    problems.push(
      `KAFKA_SECURITY_PROTOCOL ${protocol}${authenticated ? '' : ' without credentials'} is refused with SLUICE_ENV=${settings.SLUICE_ENV}: ` +
        'use SASL_SSL (or SSL with a client certificate), or set KAFKA_ALLOW_INSECURE=true',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { protocol, ...(sasl && { sasl }), ...(tls && { tls }) };
}

/** The security part of a kafkajs client's configuration. */
export function kafkajsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.tls) out.ssl = { ...security.tls, ...(security.tls.ca !== undefined && { ca: [security.tls.ca] }) };
  if (security.sasl) {
    const { username, password } = security.sasl;
    const sasl: SASLOptions =
      security.sasl.mechanism === 'PLAIN'
        ? { mechanism: 'plain', username, password }
        : security.sasl.mechanism === 'SCRAM-SHA-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
    out.sasl = sasl;
  }
  return out;
}

/** The security part of a @platformatic/kafka client's options (tls and sasl as its ConnectionOptions name them). */
export function platformaticSecurity(security: KafkaSecurity): {
  tls?: { ca?: string; cert?: string; key?: string };
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
} {
  return { ...(security.tls && { tls: { ...security.tls } }), ...(security.sasl && { sasl: { ...security.sasl } }) };
}
