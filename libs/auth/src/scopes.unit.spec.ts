import { parseScopes } from './scopes';

describe('parseScopes', () => {
  it('splits the space-separated scope claim', () => {
    expect([...parseScopes({ scope: 'wallets:open wallets:read' })]).toEqual(['wallets:open', 'wallets:read']);
  });

  it('ignores repeated spaces and tokens with characters RFC 6749 forbids', () => {
    expect([...parseScopes({ scope: ' wallets:read   bad"scope funds:deposit' })]).toEqual(['wallets:read', 'funds:deposit']);
  });

  it('reads an scp array when there is no scope string', () => {
    expect([...parseScopes({ scp: ['wallets:read', 7, 'funds:deposit'] })]).toEqual(['wallets:read', 'funds:deposit']);
  });

  it('grants nothing for a missing or non-string claim', () => {
    expect(parseScopes({}).size).toBe(0);
    expect(parseScopes({ scope: ['wallets:read'] }).size).toBe(0);
  });
});
