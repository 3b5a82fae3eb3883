-- The trace of each withdrawal (the traceparent of the worker's span that handled its WithdrawalRequested),
-- and the traceparent each wallet command carries to the command API as a Kafka header (docs/tracing.md).
ALTER TABLE "payment_sagas" ADD COLUMN "traceparent" varchar(55);--> statement-breakpoint
ALTER TABLE "payment_commands" ADD COLUMN "traceparent" varchar(55);
