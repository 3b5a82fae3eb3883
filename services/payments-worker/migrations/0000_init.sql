CREATE TABLE "payment_commands" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"command_id" uuid NOT NULL,
	"wallet_id" uuid NOT NULL,
	"type" varchar(64) NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_commands_command_id_unique" UNIQUE("command_id")
);
--> statement-breakpoint
CREATE TABLE "payment_sagas" (
	"withdrawal_id" uuid PRIMARY KEY NOT NULL,
	"wallet_id" uuid NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"state" varchar(16) NOT NULL,
	"wallet_state" varchar(16) DEFAULT 'requested' NOT NULL,
	"idempotency_key" varchar(64) NOT NULL,
	"provider" varchar(64) NOT NULL,
	"provider_reference" varchar(255),
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone,
	"lease_token" uuid,
	"parked_at" timestamp with time zone,
	"failure_reason" varchar(64),
	"last_error" text,
	"requested_at" timestamp with time zone NOT NULL,
	"submitted_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "payment_sagas_amount_positive" CHECK ("payment_sagas"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "psp_webhook_inbox" (
	"event_id" varchar(255) PRIMARY KEY NOT NULL,
	"type" varchar(64) NOT NULL,
	"reference" varchar(255),
	"body" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone,
	"outcome" varchar(32)
);
--> statement-breakpoint
CREATE INDEX "payment_sagas_due_idx" ON "payment_sagas" USING btree ("next_attempt_at") WHERE "payment_sagas"."state" IN ('requested', 'submitted') AND "payment_sagas"."parked_at" IS NULL;--> statement-breakpoint
CREATE INDEX "payment_sagas_parked_idx" ON "payment_sagas" USING btree ("parked_at") WHERE "payment_sagas"."parked_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "psp_webhook_inbox_unprocessed_idx" ON "psp_webhook_inbox" USING btree ("received_at") WHERE "psp_webhook_inbox"."processed_at" IS NULL;