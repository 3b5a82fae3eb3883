import { loadConfig, z } from '@sluice/config';
import { authEnv, authSettingsOf, checkAuthEnv } from './config';

const schema = z.object(authEnv).superRefine(checkAuthEnv);

describe('auth settings', () => {
  it('refuse to start in production without issuer, audience and key set', () => {
    expect(() => loadConfig(schema, {})).toThrow(/AUTH_ISSUER is required[\s\S]*AUTH_AUDIENCE is required[\s\S]*AUTH_JWKS_URL/);
  });

  it('refuse a plain-HTTP key-set URL in production', () => {
    expect(() => loadConfig(schema, { AUTH_ISSUER: 'https://i', AUTH_AUDIENCE: 'a', AUTH_JWKS_URL: 'http://i/jwks' })).toThrow(
      'AUTH_JWKS_URL must be https',
    );
  });

  it('default to the local dev issuer in development', () => {
    const settings = authSettingsOf(loadConfig(schema, { SLUICE_ENV: 'development' }));
    expect(settings.verifier).toMatchObject({ audience: 'sluice', jwks: { file: '.run/auth/jwks.json' } });
  });

  it('refuse HS256 and none in the algorithm list', () => {
    expect(() => loadConfig(schema, { SLUICE_ENV: 'development', AUTH_ALGORITHMS: 'RS256,HS256' })).toThrow();
    expect(() => loadConfig(schema, { SLUICE_ENV: 'development', AUTH_ALGORITHMS: 'none' })).toThrow();
  });

  it('take a production issuer as given', () => {
    const c = loadConfig(schema, {
      AUTH_ISSUER: 'https://id.example.com/',
      AUTH_AUDIENCE: 'https://api.example.com',
      AUTH_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
    });
    expect(authSettingsOf(c).verifier).toMatchObject({
      issuer: 'https://id.example.com/',
      jwks: { url: 'https://id.example.com/.well-known/jwks.json' },
    });
  });
});
