import { join } from 'node:path';
import { ensureCommandKeys } from '@sluice/platform';

/**
 * The command signing keys of the dev overlay, made on the developer's machine (kept when there)
 * into deploy/k8s/overlays/dev/command-keys, which git ignores: no private key is committed, not
 * even a development one. The overlay's secretGenerator reads them from there.
 *   npx tsx deploy/k8s/dev-command-keys.ts
 */
export const DEV_COMMAND_KEYS_DIR = 'overlays/dev/command-keys';

export function ensureDevCommandKeys(k8sDir: string): void {
  ensureCommandKeys(join(k8sDir, DEV_COMMAND_KEYS_DIR));
}

if (require.main === module) {
  ensureDevCommandKeys(__dirname);
  process.stdout.write(`${join(__dirname, DEV_COMMAND_KEYS_DIR)}\n`);
}
