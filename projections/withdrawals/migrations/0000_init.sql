CREATE TABLE "withdrawal_status" (
	"withdrawal_id" uuid PRIMARY KEY NOT NULL,
	"wallet_id" uuid NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"state" varchar(16) NOT NULL,
	"provider" varchar(64),
	"provider_reference" varchar(255),
	"failure_reason" varchar(64),
	"failure_detail" text,
	"requested_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"version" integer NOT NULL,
	"last_event_id" uuid NOT NULL,
	"projected_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "withdrawal_status_wallet_id_idx" ON "withdrawal_status" USING btree ("wallet_id");