import { join } from 'node:path';
import { devIssuer } from '@sluice/platform';

const USAGE = `usage: sluice token --sub <subject> [--scope "<scopes>"] [--ttl <seconds>] [--client]

Prints an access token (RFC 9068 JWT) signed by the local dev issuer under
$SLUICE_RUN_DIR/auth (default .run/auth; created by make up, or here if missing).
Local development only: production tokens come from your OIDC provider.

  --sub     the subject: who the token acts for (owner of the wallets it opens)
  --scope   space-separated: wallets:open wallets:read withdrawals:request (a customer),
            funds:deposit (a funding service), wallets:read:any (support)
  --ttl     lifetime in seconds (default 900, at most 86400)
  --client  a client-credentials token: client_id instead of sub`;

/** `sluice token`: what `make token SUB=… SCOPE=…` runs. */
export async function runToken(args: string[]): Promise<number> {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const subject = flag('sub');
  const ttl = Number(flag('ttl') ?? 900);
  if (
    args.includes('--help') ||
    !subject ||
    !/^[\x21-\x7e]{1,255}$/.test(subject) ||
    !Number.isInteger(ttl) ||
    ttl < 1 ||
    ttl > 86_400
  ) {
    console.error(USAGE);
    return args.includes('--help') ? 0 : 2;
  }
  const issuer = devIssuer(process.env.SLUICE_RUN_DIR ?? join(process.cwd(), '.run'));
  const scope = (flag('scope') ?? '').trim().split(/\s+/).filter(Boolean).join(' ');
  console.log(await issuer.token({ subject, scope, ttlSec: ttl, clientCredentials: args.includes('--client') }));
  return 0;
}
