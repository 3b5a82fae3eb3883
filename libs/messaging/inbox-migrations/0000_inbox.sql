CREATE TABLE IF NOT EXISTS "inbox" (
	"consumer" varchar(255) NOT NULL,
	"message_id" varchar(255) NOT NULL,
	"outcome_status" integer NOT NULL,
	"outcome" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_message_id_pk" PRIMARY KEY("consumer","message_id")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "inbox_received_at_idx" ON "inbox" USING btree ("received_at");
