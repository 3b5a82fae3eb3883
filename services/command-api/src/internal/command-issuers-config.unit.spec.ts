import { loadConfig } from '@sluice/config';
import { commandApiConfig } from '../config';

/** The access-token issuer production also requires, so only the issuers file is in question here. */
const AUTH = {
  AUTH_ISSUER: 'https://id.example.test/',
  AUTH_AUDIENCE: 'sluice-api',
  AUTH_JWKS_URL: 'https://id.example.test/jwks',
};

describe('command API configuration of internal command issuers', () => {
  it('refuses to start outside development without the issuers file while it takes internal commands', () => {
    expect(() => loadConfig(commandApiConfig, AUTH)).toThrow(/COMMAND_ISSUERS_FILE is required/);
    expect(() => loadConfig(commandApiConfig, { ...AUTH, COMMAND_ISSUERS_FILE: '/keys/command-issuers.json' })).not.toThrow(
      /COMMAND_ISSUERS_FILE/,
    );
    expect(() => loadConfig(commandApiConfig, { ...AUTH, WALLET_COMMANDS_ENABLED: 'false' })).not.toThrow(/COMMAND_ISSUERS_FILE/);
  });

  it('starts in development without it (every internal command is then refused)', () => {
    expect(loadConfig(commandApiConfig, { SLUICE_ENV: 'development' }).COMMAND_ISSUERS_FILE).toBeUndefined();
  });
});
