CREATE TABLE "audit_log" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"principal" varchar(255) NOT NULL,
	"source" varchar(16) NOT NULL,
	"command_type" varchar(64) NOT NULL,
	"wallet_id" uuid NOT NULL,
	"amount" bigint,
	"currency" char(3),
	"request_id" varchar(255),
	"recorded_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ALTER COLUMN "client_id" SET DATA TYPE varchar(255);--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "owner" varchar(255);--> statement-breakpoint
CREATE INDEX "audit_log_wallet_id_idx" ON "audit_log" USING btree ("wallet_id");--> statement-breakpoint
CREATE INDEX "audit_log_principal_idx" ON "audit_log" USING btree ("principal");--> statement-breakpoint
-- The audit log is append-only for every role the services use: rows are inserted with their command, never changed or removed.
CREATE FUNCTION "audit_log_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;--> statement-breakpoint
CREATE TRIGGER "audit_log_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_log" FOR EACH ROW EXECUTE FUNCTION "audit_log_refuse_change"();--> statement-breakpoint
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log" FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_refuse_change"();
