-- The SQL of one accepted deposit, statement for statement as the command API sends it
-- (services/command-api: claim the key, load, conditional update, deposit row, outbox
-- insert + delete, store the response). pgbench -M prepared -D wallets=N.
\set w random(1, :wallets)
\set amount random(1, 1000)
\set k random(1, 9223372036854775807)
\set d random(1, 281474976710655)
\set e random(1, 281474976710655)
BEGIN;
SET LOCAL statement_timeout = 400;
INSERT INTO idempotency_keys (client_id, key, fingerprint, status_code, response_body, response_headers) VALUES ('pgbench', :k::text, '7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730', 0, '', '{}'::jsonb) ON CONFLICT (client_id, key) DO NOTHING;
SELECT id, currency, balance, held, version, created_at, updated_at FROM wallets WHERE id = ('00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'))::uuid \gset
UPDATE wallets SET balance = :balance::bigint + :amount::bigint, held = :held::bigint, version = :version::int + 1, updated_at = now() WHERE id = ('00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'))::uuid AND version = :version::int RETURNING id;
INSERT INTO deposits (id, wallet_id, amount, currency, created_at) VALUES (('00000000-0000-7000-8000-' || lpad(to_hex(:d::bigint), 12, '0'))::uuid, ('00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'))::uuid, :amount::bigint, 'EUR', now());
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, traceparent) VALUES (('00000000-0000-7000-9000-' || lpad(to_hex(:e::bigint), 12, '0'))::uuid, 'wallet', '00000000-0000-7000-8000-' || lpad(:w::text, 12, '0'), 'FundsDeposited', '\x000000000101010101010101202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70717273747576777879'::bytea, NULL);
DELETE FROM outbox WHERE id = ANY(ARRAY[('00000000-0000-7000-9000-' || lpad(to_hex(:e::bigint), 12, '0'))::uuid]);
UPDATE idempotency_keys SET status_code = 201, response_body = '{"depositId":"00000000-0000-7000-8000-000000000000","walletId":"00000000-0000-7000-8000-000000000001","balance":' || (:balance::bigint + :amount::bigint) || ',"version":' || (:version::int + 1) || '}', response_headers = '{}'::jsonb WHERE client_id = 'pgbench' AND key = :k::text;
COMMIT;
