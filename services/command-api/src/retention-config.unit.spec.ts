import { loadConfig } from '@sluice/config';
import { commandApiConfig, inboxOutlastsCommands } from './config';
import { commandApiPurges } from './lifecycle';

const DEV = { SLUICE_ENV: 'development' };

describe('command API retention configuration', () => {
  it('keeps idempotency keys 48 h and inbox rows 14 days by default, beyond a 7-day command topic and a day of lag', () => {
    const config = loadConfig(commandApiConfig, DEV);
    expect(config).toMatchObject({
      IDEMPOTENCY_KEY_RETENTION_HOURS: 48,
      INBOX_RETENTION_HOURS: 336,
      WALLET_COMMANDS_RETENTION_HOURS: 168,
      WALLET_COMMANDS_MAX_LAG_HOURS: 24,
    });
    expect(commandApiPurges(config)).toEqual([
      { table: 'idempotency_keys', timeColumn: 'created_at', windowMs: 48 * 3_600_000 },
      { table: 'inbox', timeColumn: 'received_at', windowMs: 336 * 3_600_000 },
    ]);
  });

  it('refuses idempotency keys kept less than the 24 h a retrying client is promised', () => {
    expect(() => loadConfig(commandApiConfig, { ...DEV, IDEMPOTENCY_KEY_RETENTION_HOURS: '23' })).toThrow(
      /IDEMPOTENCY_KEY_RETENTION_HOURS must be at least 24/,
    );
    expect(loadConfig(commandApiConfig, { ...DEV, IDEMPOTENCY_KEY_RETENTION_HOURS: '24' }).IDEMPOTENCY_KEY_RETENTION_HOURS).toBe(
      24,
    );
  });

  it('refuses an inbox window not longer than the command topic retention plus the allowed lag', () => {
    expect(() => loadConfig(commandApiConfig, { ...DEV, INBOX_RETENTION_HOURS: '192' })).toThrow(
      /INBOX_RETENTION_HOURS \(192\) must exceed the command topic's retention \(168 h\) plus WALLET_COMMANDS_MAX_LAG_HOURS \(24\), that is 192 h/,
    );
    expect(() =>
      loadConfig(commandApiConfig, { ...DEV, INBOX_RETENTION_HOURS: '200', WALLET_COMMANDS_RETENTION_HOURS: '240' }),
    ).toThrow(/INBOX_RETENTION_HOURS \(200\) must exceed/);
    expect(loadConfig(commandApiConfig, { ...DEV, INBOX_RETENTION_HOURS: '193' }).INBOX_RETENTION_HOURS).toBe(193);
  });

  it('judges the inbox against a broker retention in fractions of an hour', () => {
    expect(
      inboxOutlastsCommands({ INBOX_RETENTION_HOURS: 193, WALLET_COMMANDS_MAX_LAG_HOURS: 24, topicRetentionHours: 169.5 }),
    ).toMatch(/must exceed/);
    expect(
      inboxOutlastsCommands({ INBOX_RETENTION_HOURS: 193, WALLET_COMMANDS_MAX_LAG_HOURS: 24, topicRetentionHours: 168 }),
    ).toBeUndefined();
  });

  it('refuses a purge lock timeout not shorter than its statement timeout', () => {
    expect(() =>
      loadConfig(commandApiConfig, { ...DEV, PURGE_LOCK_TIMEOUT_MS: '5000', PURGE_STATEMENT_TIMEOUT_MS: '5000' }),
    ).toThrow(/PURGE_LOCK_TIMEOUT_MS must be shorter than PURGE_STATEMENT_TIMEOUT_MS/);
  });
});
