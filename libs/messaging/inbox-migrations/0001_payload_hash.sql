ALTER TABLE "inbox" ADD COLUMN IF NOT EXISTS "payload_hash" varchar(64);
