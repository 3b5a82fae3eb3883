import { loadConfig } from '@sluice/config';
import { paymentsWorkerConfig } from './config';

describe('payments worker configuration', () => {
  it('starts a new consumer group at the end of the wallet events unless told to replay history', () => {
    const config = loadConfig(paymentsWorkerConfig, { SLUICE_ENV: 'development' });
    expect(config.PAYMENTS_FROM_BEGINNING).toBe(false);
    expect(config.PSP_DECLINE_CODES).toEqual(['declined']);
  });

  it('refuses to start outside development without its command signing key', () => {
    expect(() => loadConfig(paymentsWorkerConfig, {})).toThrow(/COMMAND_SIGNING_KEY_FILE is required/);
    expect(() => loadConfig(paymentsWorkerConfig, { COMMAND_SIGNING_KEY_FILE: '/keys/payments-worker.pem' })).not.toThrow(
      /COMMAND_SIGNING_KEY_FILE/,
    );
  });

  it('takes only decline codes that look like codes', () => {
    expect(() => loadConfig(paymentsWorkerConfig, { SLUICE_ENV: 'development', PSP_DECLINE_CODES: 'declined,<b>' })).toThrow();
    expect(
      loadConfig(paymentsWorkerConfig, { SLUICE_ENV: 'development', PSP_DECLINE_CODES: 'declined, do_not_honor' })
        .PSP_DECLINE_CODES,
    ).toEqual(['declined', 'do_not_honor']);
  });
});
