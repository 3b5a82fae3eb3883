import { ConfigError, loadConfig } from '@sluice/config';
import { projectorConfig } from './config';

describe('projector config', () => {
  it('given local development, then the documented defaults', () => {
    expect(loadConfig(projectorConfig, { SLUICE_ENV: 'development' })).toMatchObject({
      PORT: 3011,
      PROJECTOR_GROUP_ID: 'sluice-projector-wallet',
      PROJECTOR_TOPIC_PARTITIONS: 12,
      MIGRATE_ON_START: true,
    });
  });

  it('given a heartbeat longer than a third of the session timeout, then it refuses to start', () => {
    expect(() => loadConfig(projectorConfig, { KAFKA_SESSION_TIMEOUT_MS: '9000', KAFKA_HEARTBEAT_INTERVAL_MS: '4000' })).toThrow(
      ConfigError,
    );
  });

  it('given fewer pooled connections than concurrent batches, then it refuses to start', () => {
    expect(() => loadConfig(projectorConfig, { DB_POOL_MAX: '4', PROJECTOR_PARTITIONS_CONCURRENTLY: '4' })).toThrow(
      /DB_POOL_MAX must exceed/,
    );
  });
});

describe('projector config: projections, dead letters, retries', () => {
  it('given local development, then all three projections in one group, five attempts before parking, notifications on', () => {
    expect(loadConfig(projectorConfig, { SLUICE_ENV: 'development' })).toMatchObject({
      PROJECTOR_PROJECTIONS: ['wallet', 'transactions', 'withdrawals'],
      PROJECTOR_RETRY_ATTEMPTS: 5,
      PROJECTOR_NOTIFY: true,
      PROJECTOR_SYNCHRONOUS_COMMIT: true,
      PROJECTOR_DLQ_PARTITIONS: 1,
    });
  });

  it('given a retry base above its cap, then it refuses to start', () => {
    expect(() => loadConfig(projectorConfig, { PROJECTOR_RETRY_BASE_MS: '9000', PROJECTOR_RETRY_MAX_MS: '1000' })).toThrow(
      /PROJECTOR_RETRY_BASE_MS/,
    );
  });

  it('given an empty projection list, then it refuses to start', () => {
    expect(() => loadConfig(projectorConfig, { PROJECTOR_PROJECTIONS: ' , ' })).toThrow(/names no projection/);
  });
});
