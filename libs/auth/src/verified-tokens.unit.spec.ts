import { VerifiedTokens } from './verified-tokens';

const alice = { subject: 'alice', scopes: new Set(['wallets:read']) };
const bob = { subject: 'bob', scopes: new Set<string>() };

describe('VerifiedTokens', () => {
  let now = 1_000_000;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('answers a remembered token until its ttl, then asks for a new check', () => {
    const tokens = new VerifiedTokens({ maxEntries: 10, ttlMs: 60_000 }, clock);
    tokens.remember('t1', alice, now + 3_600_000);
    expect(tokens.get('t1')).toBe(alice);
    now += 60_001;
    expect(tokens.get('t1')).toBeUndefined();
    expect(tokens.size).toBe(0);
    expect({ hits: tokens.hits, misses: tokens.misses }).toEqual({ hits: 1, misses: 1 });
  });

  it('never answers a token past its own expiry, however long the ttl', () => {
    const tokens = new VerifiedTokens({ maxEntries: 10, ttlMs: 600_000 }, clock);
    tokens.remember('t1', alice, now + 5_000);
    now += 5_000;
    expect(tokens.get('t1')).toBeUndefined();
    tokens.remember('t2', bob, now - 1);
    expect(tokens.size).toBe(0);
  });

  it('keeps at most maxEntries, forgetting the oldest first', () => {
    const tokens = new VerifiedTokens({ maxEntries: 2, ttlMs: 60_000 }, clock);
    tokens.remember('t1', alice, now + 3_600_000);
    tokens.remember('t2', bob, now + 3_600_000);
    tokens.remember('t3', bob, now + 3_600_000);
    expect(tokens.size).toBe(2);
    expect(tokens.get('t1')).toBeUndefined();
    expect(tokens.get('t3')).toBe(bob);
  });

  it('remembers nothing with maxEntries 0', () => {
    const tokens = new VerifiedTokens({ maxEntries: 0, ttlMs: 60_000 }, clock);
    tokens.remember('t1', alice, now + 3_600_000);
    expect(tokens.get('t1')).toBeUndefined();
  });
});
