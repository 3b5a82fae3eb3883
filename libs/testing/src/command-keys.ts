import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The command types each sender may send, as the local platform configures them. */
export const COMMAND_ISSUER_TYPES: Readonly<Record<string, readonly string[]>> = {
  'payments-worker': ['MarkWithdrawalSubmitted', 'CompleteWithdrawal', 'FailWithdrawal'],
  'bonus-service': ['DepositFunds'],
};

export interface CommandKeys {
  /** The command API's issuers file (every issuer's public key and allowed types). */
  issuersFile: string;
  /** Each issuer's private key file. */
  keyFile: Readonly<Record<string, string>>;
  dir: string;
}

let keys: CommandKeys | undefined;

/**
 * Key pairs for the internal command issuers of this test process, made once
 * in a temporary directory, and the issuers file that trusts them.
 */
export function commandKeys(): CommandKeys {
  if (keys) return keys;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-command-keys-'));
  const issuers: Record<string, { publicKey: string; commands: readonly string[] }> = {};
  const keyFile: Record<string, string> = {};
  for (const [issuer, commands] of Object.entries(COMMAND_ISSUER_TYPES)) {
    const pair = generateKeyPairSync('ed25519');
    keyFile[issuer] = join(dir, `${issuer}.key.pem`);
    writeFileSync(keyFile[issuer], pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    issuers[issuer] = { publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), commands };
  }
  const issuersFile = join(dir, 'command-issuers.json');
  writeFileSync(issuersFile, JSON.stringify(issuers, null, 2));
  keys = { issuersFile, keyFile, dir };
  return keys;
}

/** The signing settings a service of the tests needs (none for those that neither send nor take internal commands). */
export function commandSigningEnv(service: string): Record<string, string> {
  if (service === 'command-api') return { COMMAND_ISSUERS_FILE: commandKeys().issuersFile };
  const keyFile = commandKeys().keyFile[service];
  return keyFile ? { COMMAND_SIGNING_KEY_FILE: keyFile } : {};
}
