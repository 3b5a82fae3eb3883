-- Read-model snapshots (docs/snapshots.md): the catalog; each snapshot's tables live in their own schema.
CREATE TABLE "projection_snapshots" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"projection" varchar(64) NOT NULL,
	"version" integer NOT NULL,
	"fingerprint" varchar(64) NOT NULL,
	"schema_name" varchar(63) NOT NULL,
	"topic" varchar(249) NOT NULL,
	"offsets" jsonb NOT NULL,
	"row_counts" jsonb NOT NULL,
	"records" bigint NOT NULL,
	"bytes" bigint NOT NULL,
	"duration_ms" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "projection_snapshots_schema_name_idx" ON "projection_snapshots" USING btree ("schema_name");--> statement-breakpoint
CREATE INDEX "projection_snapshots_newest_idx" ON "projection_snapshots" USING btree ("projection","created_at");
