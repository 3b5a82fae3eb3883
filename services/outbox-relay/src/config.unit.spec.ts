import { loadConfig } from '@sluice/config';
import { relayConfig } from './config';

describe('relay config: the leader lock', () => {
  const base = { SLUICE_ENV: 'development' };

  it('defaults to keepalive 10 s + 5 s × 3 and a check every 2 s answered within 3 s', () => {
    expect(loadConfig(relayConfig, base)).toMatchObject({
      RELAY_LEADER_KEEPALIVE_IDLE_SEC: 10,
      RELAY_LEADER_KEEPALIVE_INTERVAL_SEC: 5,
      RELAY_LEADER_KEEPALIVE_COUNT: 3,
      RELAY_LEADER_CHECK_MS: 2_000,
      RELAY_LEADER_CHECK_TIMEOUT_MS: 3_000,
    });
  });

  it('refuses a check that would notice a lost lock only after PostgreSQL has freed it', () => {
    expect(() =>
      loadConfig(relayConfig, {
        ...base,
        RELAY_LEADER_KEEPALIVE_IDLE_SEC: '2',
        RELAY_LEADER_KEEPALIVE_INTERVAL_SEC: '1',
        RELAY_LEADER_KEEPALIVE_COUNT: '1',
        RELAY_LEADER_CHECK_MS: '2000',
        RELAY_LEADER_CHECK_TIMEOUT_MS: '1000',
      }),
    ).toThrow(/RELAY_LEADER_CHECK_MS \+ RELAY_LEADER_CHECK_TIMEOUT_MS must be below the keepalive time/);
  });
});
