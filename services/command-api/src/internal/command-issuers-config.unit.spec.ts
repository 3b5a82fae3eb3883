import { loadConfig } from '@sluice/config';
import { commandApiConfig } from '../config';

describe('command API configuration of internal command issuers', () => {
  it('refuses to start outside development without the issuers file while it takes internal commands', () => {
    expect(() => loadConfig(commandApiConfig, {})).toThrow(/COMMAND_ISSUERS_FILE is required/);
    expect(() => loadConfig(commandApiConfig, { COMMAND_ISSUERS_FILE: '/keys/command-issuers.json' })).not.toThrow();
    expect(() => loadConfig(commandApiConfig, { WALLET_COMMANDS_ENABLED: 'false' })).not.toThrow();
  });

  it('starts in development without it (every internal command is then refused)', () => {
    expect(loadConfig(commandApiConfig, { SLUICE_ENV: 'development' }).COMMAND_ISSUERS_FILE).toBeUndefined();
  });
});
