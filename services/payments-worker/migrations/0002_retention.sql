-- The retention purge's scans (docs/data-lifecycle.md): each walks the oldest purgeable rows by its time column and stops after one batch.
-- Predicates written exactly as the purge's "finished" conditions, so the planner matches them.
CREATE INDEX "payment_sagas_finished_idx" ON "payment_sagas" USING btree ("finished_at") WHERE (state = 'completed' AND wallet_state = 'completed') OR (state = 'failed' AND wallet_state = 'compensated');--> statement-breakpoint
CREATE INDEX "psp_webhook_inbox_processed_idx" ON "psp_webhook_inbox" USING btree ("received_at") WHERE processed_at IS NOT NULL;
