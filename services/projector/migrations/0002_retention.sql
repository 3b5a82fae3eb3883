-- The retention purge's scan of resolved parked records (docs/data-lifecycle.md): oldest resolution first, one batch at a time.
CREATE INDEX "projection_parked_resolved_idx" ON "projection_parked" USING btree ("resolved_at") WHERE state = 'resolved';
