import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readIssuers, readSigningKey, signCommand, verifyCommand } from '@sluice/messaging';
import { commandKeysEnv, ensureCommandKeys } from './command-keys';

describe('local command keys', () => {
  it('makes a key pair per issuer once, and an issuers file that trusts each for its own types only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const keys = ensureCommandKeys(dir);
    const again = ensureCommandKeys(dir);
    expect(readFileSync(again.keyFile['payments-worker']!, 'utf8')).toBe(readFileSync(keys.keyFile['payments-worker']!, 'utf8'));
    const issuers = readIssuers(keys.issuersFile);
    const command = { type: 'FailWithdrawal', commandId: 'c1', walletId: 'w', withdrawalId: 'x', reason: 'r', detail: 'd' };
    const asWorker = JSON.parse(
      signCommand(command, 'payments-worker', readSigningKey(keys.keyFile['payments-worker']!)),
    ) as unknown;
    const asBonus = JSON.parse(signCommand(command, 'bonus-service', readSigningKey(keys.keyFile['bonus-service']!))) as unknown;
    expect(verifyCommand(asWorker, issuers)).toMatchObject({ ok: true, issuer: 'payments-worker' });
    expect(verifyCommand(asBonus, issuers)).toMatchObject({ ok: false, refusal: 'type_not_allowed' });
    expect(commandKeysEnv(keys, 'command-api')).toEqual({ COMMAND_ISSUERS_FILE: keys.issuersFile });
    expect(commandKeysEnv(keys, 'projector')).toEqual({});
  });
});
