CREATE TABLE "relay_checkpoints" (
	"slot_name" varchar(63) PRIMARY KEY NOT NULL,
	"commit_lsn" "pg_lsn" NOT NULL,
	"idx" integer NOT NULL,
	"confirmed_lsn" "pg_lsn" NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
