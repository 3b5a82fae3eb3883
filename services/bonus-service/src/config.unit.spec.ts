import { loadConfig } from '@sluice/config';
import { bonusServiceConfig } from './config';

describe('bonus service configuration', () => {
  it('refuses to start outside development without its command signing key', () => {
    expect(() => loadConfig(bonusServiceConfig, {})).toThrow(/COMMAND_SIGNING_KEY_FILE is required/);
    expect(() => loadConfig(bonusServiceConfig, { COMMAND_SIGNING_KEY_FILE: '/keys/bonus.pem' })).not.toThrow(
      /COMMAND_SIGNING_KEY_FILE/,
    );
    expect(loadConfig(bonusServiceConfig, { SLUICE_ENV: 'development' }).COMMAND_ISSUER).toBe('bonus-service');
  });
});
