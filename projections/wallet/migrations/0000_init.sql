CREATE TABLE "wallet_balances" (
	"wallet_id" uuid PRIMARY KEY NOT NULL,
	"currency" char(3) NOT NULL,
	"balance" bigint NOT NULL,
	"version" integer NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"last_event_id" uuid NOT NULL,
	"projected_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallet_balances_version_positive" CHECK ("wallet_balances"."version" >= 1)
);
