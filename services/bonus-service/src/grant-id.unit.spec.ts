import { UUID_PATTERN } from '@sluice/core';
import { grantCommandId } from './grant-id';

describe('grantCommandId', () => {
  const wallet = '0190a000-0000-7000-8000-000000000001';

  it('is the same UUID for the same campaign and wallet, whatever the case of the id', () => {
    expect(grantCommandId('welcome', wallet)).toBe(grantCommandId('welcome', wallet.toUpperCase()));
    expect(grantCommandId('welcome', wallet)).toMatch(UUID_PATTERN);
    expect(grantCommandId('welcome', wallet)[14]).toBe('8');
  });

  it('differs between campaigns and between wallets', () => {
    const ids = new Set([
      grantCommandId('welcome', wallet),
      grantCommandId('spring', wallet),
      grantCommandId('welcome', '0190a000-0000-7000-8000-000000000002'),
    ]);
    expect(ids.size).toBe(3);
  });
});
