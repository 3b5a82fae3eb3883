CREATE TABLE "wallet_transactions" (
	"wallet_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"type" varchar(32) NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"balance" bigint NOT NULL,
	"reference" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"projected_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallet_transactions_wallet_id_version_pk" PRIMARY KEY("wallet_id","version"),
	CONSTRAINT "wallet_transactions_amount_positive" CHECK ("wallet_transactions"."amount" > 0)
);
