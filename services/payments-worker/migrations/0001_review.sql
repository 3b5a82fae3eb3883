ALTER TABLE "payment_sagas" ADD COLUMN "send_uncertain" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "look_up_first" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "review_reason" varchar(32);--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "review_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "resolution" varchar(16);--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "resolved_by" varchar(255);--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "resolution_note" text;--> statement-breakpoint
ALTER TABLE "payment_sagas" ADD COLUMN "resolved_at" timestamp with time zone;--> statement-breakpoint
CREATE TABLE "payment_conflicts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"withdrawal_id" uuid NOT NULL,
	"saga_state" varchar(16) NOT NULL,
	"reported_status" varchar(16) NOT NULL,
	"payout_id" varchar(255) NOT NULL,
	"source" varchar(16) NOT NULL,
	"event_id" varchar(255),
	"detected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"acknowledged_by" varchar(255),
	"acknowledged_at" timestamp with time zone,
	CONSTRAINT "payment_conflicts_event_unique" UNIQUE("withdrawal_id","event_id")
);--> statement-breakpoint
CREATE INDEX "payment_sagas_review_idx" ON "payment_sagas" USING btree ("review_at") WHERE "payment_sagas"."state" = 'needs_review';
