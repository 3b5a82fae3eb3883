-- The SQL of one accepted deposit, statement for statement as the command API sends it for a
-- batch of one (services/command-api/src/commands/wallet-store.ts and libs/outbox): claim the key
-- and load the wallet; write wallet + deposit + stored response + outbox row in one statement
-- (with the claim's release, should the version check fail); commit. The outbox row stays for the
-- relay, which prunes it once published (docs/relay-failover.md).
-- Under load the API sends the same statements for several deposits at once (group commit), so
-- this is its most expensive way to run a deposit. The API sends BEGIN with SET LOCAL as one
-- simple query; pgbench -M prepared cannot send compound statements, so it sends them apart.
--   pgbench -M prepared -D wallets=N -f deposit.pgbench.sql
\set w random(1, :wallets)
\set amount random(1, 1000)
\set k random(1, 9223372036854775807)
\set d random(1, 281474976710655)
\set e random(1, 281474976710655)
BEGIN;
SET LOCAL statement_timeout = 400;
WITH input AS (
    SELECT * FROM unnest(ARRAY[('00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'))::uuid]::uuid[], ARRAY['pgbench']::text[], ARRAY[:k::text]::text[],
      ARRAY['7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730']::text[]) WITH ORDINALITY AS i(wallet_id, client_id, key, fingerprint, n)
  ), claim AS (
    INSERT INTO idempotency_keys (client_id, key, fingerprint, status_code, response_body, response_headers)
    SELECT client_id, key, fingerprint, 0, '', '{}'::jsonb FROM input WHERE key IS NOT NULL ORDER BY client_id, key
    ON CONFLICT (client_id, key) DO NOTHING RETURNING client_id, key
  )
  SELECT i.key IS NULL OR EXISTS (SELECT 1 FROM claim c WHERE c.client_id = i.client_id AND c.key = i.key) AS claimed,
         w.id, w.currency, w.balance::text AS balance, w.held::text AS held, w.version
    FROM input i LEFT JOIN wallets w ON w.id = i.wallet_id ORDER BY i.n
\gset
WITH w_0 AS (UPDATE wallets SET balance = :balance::bigint + :amount::bigint, held = :held::bigint, version = :version::int + 1, updated_at = now()
    WHERE id = ('00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'))::uuid AND version = :version::int RETURNING id),
  d0_0 AS (INSERT INTO deposits (id, wallet_id, amount, currency, created_at)
    SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(:d::bigint), 12, '0'))::uuid, w_0.id, :amount::bigint, 'EUR', now() FROM w_0),
  k_0 AS (UPDATE idempotency_keys SET status_code = 201,
      response_body = '{"depositId":"00000000-0000-7000-8000-000000000000","walletId":"00000000-0000-7000-8000-000000000001","balance":' || (:balance::bigint + :amount::bigint) || ',"version":' || (:version::int + 1) || '}',
      response_headers = '{}'::jsonb
    WHERE client_id = 'pgbench' AND key = :k::text AND EXISTS (SELECT 1 FROM w_0)),
  o_0 AS (INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, traceparent)
    SELECT * FROM (VALUES (('00000000-0000-7000-9000-' || lpad(to_hex(:e::bigint), 12, '0'))::uuid, 'wallet'::varchar, ('00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'))::varchar, 'FundsDeposited'::varchar, '\x000000000101010101010101202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70717273747576777879'::bytea, NULL::varchar)) AS v
    WHERE EXISTS (SELECT 1 FROM w_0)),
  x_0 AS (DELETE FROM idempotency_keys WHERE client_id = 'pgbench' AND key = :k::text AND NOT EXISTS (SELECT 1 FROM w_0))
  SELECT 0 AS n FROM w_0;
COMMIT;
