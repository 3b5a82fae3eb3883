CREATE TABLE "projector_checkpoints" (
	"consumer_group" varchar(255) NOT NULL,
	"topic" varchar(249) NOT NULL,
	"partition" integer NOT NULL,
	"next_offset" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projector_checkpoints_consumer_group_topic_partition_pk" PRIMARY KEY("consumer_group","topic","partition")
);
