CREATE TABLE "projection_parked" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"projection" varchar(64) NOT NULL,
	"version" integer NOT NULL,
	"consumer_group" varchar(255) NOT NULL,
	"topic" varchar(249) NOT NULL,
	"partition" integer NOT NULL,
	"offset" bigint NOT NULL,
	"key" text,
	"event_type" varchar(128),
	"aggregate_version" integer,
	"value" "bytea",
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"record_timestamp" timestamp with time zone,
	"state" varchar(16) NOT NULL,
	"error_code" varchar(64) NOT NULL,
	"error_reason" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"first_failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolution" varchar(16)
);
--> statement-breakpoint
CREATE TABLE "projection_checkpoints" (
	"projection" varchar(64) NOT NULL,
	"version" integer NOT NULL,
	"topic" varchar(249) NOT NULL,
	"partition" integer NOT NULL,
	"next_offset" bigint NOT NULL,
	"start_offset" bigint DEFAULT 0 NOT NULL,
	"end_offset" bigint,
	"lag_records" bigint DEFAULT 0 NOT NULL,
	"last_record_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projection_checkpoints_projection_version_topic_partition_pk" PRIMARY KEY("projection","version","topic","partition")
);
--> statement-breakpoint
CREATE TABLE "projection_versions" (
	"projection" varchar(64) NOT NULL,
	"version" integer NOT NULL,
	"schema_name" varchar(63) NOT NULL,
	"state" varchar(16) NOT NULL,
	"origin" varchar(16) NOT NULL,
	"started_from" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"live_at" timestamp with time zone,
	"retired_at" timestamp with time zone,
	"progress_applied" bigint DEFAULT 0 NOT NULL,
	"progress_total" bigint DEFAULT 0 NOT NULL,
	"progress_rate" double precision DEFAULT 0 NOT NULL,
	"progress_at" timestamp with time zone,
	CONSTRAINT "projection_versions_projection_version_pk" PRIMARY KEY("projection","version")
);
--> statement-breakpoint
CREATE TABLE "projections" (
	"name" varchar(64) PRIMARY KEY NOT NULL,
	"live_version" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "projection_parked_record_idx" ON "projection_parked" USING btree ("projection","version","topic","partition","offset");--> statement-breakpoint
CREATE INDEX "projection_parked_open_key_idx" ON "projection_parked" USING btree ("projection","version","key") WHERE state <> 'resolved';--> statement-breakpoint
CREATE UNIQUE INDEX "projection_versions_schema_name_idx" ON "projection_versions" USING btree ("schema_name");