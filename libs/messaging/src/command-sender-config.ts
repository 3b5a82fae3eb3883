import { z } from '@sluice/config';

/** The settings of a service that signs the wallet commands it sends (the payments worker, the bonus service). */
export function commandSenderEnv(issuer: string) {
  return {
    /** The Ed25519 private key (PEM, PKCS #8) wallet commands are signed with; required outside development. */
    COMMAND_SIGNING_KEY_FILE: z.string().min(1).optional(),
    /** The issuer name the command API knows this service's public key under. */
    COMMAND_ISSUER: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/)
      .default(issuer),
  };
}

/** Outside development a command sender needs its key: add with `.refine(...signingKeyRequired)`. */
export const signingKeyRequired = [
  (c: { SLUICE_ENV: string; COMMAND_SIGNING_KEY_FILE?: string | undefined }) =>
    c.SLUICE_ENV === 'development' || c.COMMAND_SIGNING_KEY_FILE !== undefined,
  { message: 'COMMAND_SIGNING_KEY_FILE is required outside development (SLUICE_ENV=production)' },
] as const;
