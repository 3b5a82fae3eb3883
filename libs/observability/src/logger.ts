import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout, one line per event, tagged with the service. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Never log credentials that reach a log line through a config object.
    redact: { paths: ['*.password', '*.DATABASE_URL', 'config.DATABASE_URL'], censor: '[redacted]' },
  });
}
