import { TtlCache } from './ttl-cache';

describe('TtlCache', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000;
  });

  it('given a value set, when read within its TTL, then it is served; after the TTL, it is gone', () => {
    const cache = new TtlCache<string>(500, 10, clock);
    cache.set('a', 'v1', cache.begin('a'));
    now += 499;
    expect(cache.get('a')).toBe('v1');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
  });

  it('given an invalidation while a read was in flight, when the read fills the cache, then the stale value is discarded', () => {
    const cache = new TtlCache<string>(500, 10, clock);
    const token = cache.begin('a');
    cache.invalidate('a');
    cache.set('a', 'old row', token);
    expect(cache.get('a')).toBeUndefined();
  });

  it('given a clear while a read was in flight, then that fill is discarded too', () => {
    const cache = new TtlCache<string>(500, 10, clock);
    const token = cache.begin('a');
    cache.clear();
    cache.set('a', 'old row', token);
    expect(cache.get('a')).toBeUndefined();
  });

  it('given more keys than it holds, then the least recently used goes first', () => {
    const cache = new TtlCache<string>(500, 2, clock);
    cache.set('a', '1', cache.begin('a'));
    cache.set('b', '2', cache.begin('b'));
    cache.get('a');
    cache.set('c', '3', cache.begin('c'));
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual(['1', undefined, '3']);
  });
});
