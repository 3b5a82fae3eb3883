import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Who sends internal wallet commands and which types each may send: the
 * payments worker moves withdrawals, the bonus service credits deposits.
 * The command API refuses any other pairing.
 */
export const COMMAND_ISSUER_TYPES: Readonly<Record<string, readonly string[]>> = {
  'payments-worker': ['MarkWithdrawalSubmitted', 'CompleteWithdrawal', 'FailWithdrawal'],
  'bonus-service': ['DepositFunds'],
};

export interface CommandKeys {
  /** The command API's issuers file: each issuer's public key and allowed types. */
  issuersFile: string;
  /** Each issuer's private key (PEM, PKCS #8). */
  keyFile: Readonly<Record<string, string>>;
}

/**
 * An Ed25519 key pair per command issuer in `dir` (made once: kept when
 * there), and the issuers file that trusts their public keys. For local
 * development and tests; a real deployment brings its own keys.
 */
export function ensureCommandKeys(dir: string): CommandKeys {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const issuers: Record<string, { publicKey: string; commands: readonly string[] }> = {};
  const keyFile: Record<string, string> = {};
  for (const [issuer, commands] of Object.entries(COMMAND_ISSUER_TYPES)) {
    const file = join(dir, `${issuer}.key.pem`);
    const pub = join(dir, `${issuer}.pub.pem`);
    if (!existsSync(file) || !existsSync(pub)) {
      const pair = generateKeyPairSync('ed25519');
      writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    }
    keyFile[issuer] = file;
    issuers[issuer] = { publicKey: readFileSync(pub, 'utf8'), commands };
  }
  const issuersFile = join(dir, 'command-issuers.json');
  writeFileSync(issuersFile, `${JSON.stringify(issuers, null, 2)}\n`);
  return { issuersFile, keyFile };
}

/** The signing settings of one service: the issuers file for the command API, its key for a sender, nothing for the rest. */
export function commandKeysEnv(keys: CommandKeys, service: string): Record<string, string> {
  if (service === 'command-api') return { COMMAND_ISSUERS_FILE: keys.issuersFile };
  const keyFile = keys.keyFile[service];
  return keyFile ? { COMMAND_SIGNING_KEY_FILE: keyFile } : {};
}
