import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandKeysEnv, ensureCommandKeys, type CommandKeys } from '@sluice/platform';

let keys: CommandKeys | undefined;

/** Key pairs for the internal command issuers of this test process, made once in a temporary directory. */
export function commandKeys(): CommandKeys {
  keys ??= ensureCommandKeys(mkdtempSync(join(tmpdir(), 'sluice-command-keys-')));
  return keys;
}

/** The signing settings a service of the tests needs (none for those that neither send nor take internal commands). */
export function commandSigningEnv(service: string): Record<string, string> {
  return commandKeysEnv(commandKeys(), service);
}
