import { canRead, requireReadScope } from './access';
import { AuthError, type Principal } from './principal';

const as = (subject: string, scope: string): Principal => ({ subject, scopes: new Set(scope.split(' ')) });

describe('canRead', () => {
  it('lets wallets:read read the caller’s own wallet only', () => {
    expect(canRead(as('alice', 'wallets:read'), 'alice')).toBe(true);
    expect(canRead(as('alice', 'wallets:read'), 'bob')).toBe(false);
  });

  it('lets wallets:read:any read every wallet, owned or not', () => {
    expect(canRead(as('support', 'wallets:read:any'), 'bob')).toBe(true);
    expect(canRead(as('support', 'wallets:read:any'), null)).toBe(true);
  });

  it('never lets a customer read a wallet without a recorded owner', () => {
    expect(canRead(as('alice', 'wallets:read'), null)).toBe(false);
  });

  it('needs a read scope even for the caller’s own wallet', () => {
    expect(canRead(as('alice', 'wallets:open withdrawals:request'), 'alice')).toBe(false);
  });
});

describe('requireReadScope', () => {
  it('refuses a token with neither read scope as insufficient_scope naming wallets:read', () => {
    let err: unknown;
    try {
      requireReadScope(as('alice', 'wallets:open'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'insufficient_scope', scope: 'wallets:read' });
  });
});
