import { bearerChallenge, bearerToken } from './challenge';

describe('bearerChallenge', () => {
  it('is the bare realm when no token was sent (RFC 6750 §3.1)', () => {
    expect(bearerChallenge({ realm: 'sluice' })).toBe('Bearer realm="sluice"');
  });

  it('names the error and its description for a refused token', () => {
    expect(bearerChallenge({ realm: 'sluice', error: 'invalid_token', description: 'the token expired' })).toBe(
      'Bearer realm="sluice", error="invalid_token", error_description="the token expired"',
    );
  });

  it('names the scope the request needed for insufficient_scope', () => {
    expect(bearerChallenge({ realm: 'sluice', error: 'insufficient_scope', scope: 'funds:deposit' })).toBe(
      'Bearer realm="sluice", error="insufficient_scope", scope="funds:deposit"',
    );
  });

  it('replaces quotes, backslashes and control characters so a value cannot break the header', () => {
    expect(bearerChallenge({ realm: 'a"b', error: 'invalid_token', description: 'x\\y\r\nz' })).toBe(
      'Bearer realm="a?b", error="invalid_token", error_description="x?y??z"',
    );
  });
});

describe('bearerToken', () => {
  it('takes the token of a Bearer header, the scheme in any case', () => {
    expect(bearerToken('Bearer abc.def-ghi_j')).toBe('abc.def-ghi_j');
    expect(bearerToken('bearer abc.def')).toBe('abc.def');
  });

  it('is undefined without a header and null for another scheme or a malformed token', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(['Bearer a', 'Bearer b'])).toBeNull();
  });
});
