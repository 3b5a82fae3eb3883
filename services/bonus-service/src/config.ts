import { commonEnv, consumerEnv, env, metricsEnv, metricsPortDiffers, z } from '@sluice/config';
import { commandSenderEnv, kafkaSecurityEnv, signingKeyRequired } from '@sluice/messaging';

const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/);

/**
 * The bonus service grants a welcome bonus to every new wallet: it reads the
 * wallet events and sends the wallet a DepositFunds command over Kafka.
 */
export const bonusServiceConfig = z
  .object({
    ...commonEnv,
    ...kafkaSecurityEnv,
    ...consumerEnv,
    /** Health and metrics. */
    PORT: env.port(3020),
    ...metricsEnv,
    /** Used exactly as given: Nest's '-server' / '-client' suffixes are switched off. */
    BONUS_GROUP_ID: kafkaName.default('sluice-bonus-service'),
    WALLET_COMMANDS_TOPIC: kafkaName.default('sluice.wallet.commands'),
    /**
     * Register the wallet command schemas at start-up (local development). Off (the production
     * default), only their ids are looked up; the release step `sluice schemas register` registers them.
     */
    SCHEMA_AUTO_REGISTER: env.bool(true),
    /** A new group starts at the topic's end (wallets opened from now on) unless this is true. */
    BONUS_FROM_BEGINNING: env.bool(false),
    /** Wallet events that cannot be handled (undecodable); defaults to <BONUS_GROUP_ID>.dlq. */
    BONUS_DLQ_TOPIC: kafkaName.optional(),
    /** Minor units credited to each new wallet; 0 turns the campaign off. */
    WELCOME_BONUS_AMOUNT: env.int(500, 0, Number.MAX_SAFE_INTEGER),
    /** Names the campaign; part of each grant's command id, so one wallet gets one grant per campaign. */
    WELCOME_BONUS_CAMPAIGN: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/)
      .default('welcome-2026'),
    ...commandSenderEnv('bonus-service'),
  })
  .refine(...metricsPortDiffers)
  .refine(...signingKeyRequired)
  .refine((c) => c.KAFKA_HEARTBEAT_INTERVAL_MS * 3 <= c.KAFKA_SESSION_TIMEOUT_MS, {
    message: 'KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS',
  })
  .refine((c) => c.CONSUMER_RETRY_BASE_MS <= c.CONSUMER_RETRY_MAX_MS, {
    message: 'CONSUMER_RETRY_BASE_MS must not exceed CONSUMER_RETRY_MAX_MS',
  })
  .refine((c) => !c.OUTBOX_TOPIC_PATTERN.includes(c.WALLET_COMMANDS_TOPIC), {
    message: 'WALLET_COMMANDS_TOPIC must not be an event topic',
  });

export type BonusServiceConfig = z.infer<typeof bonusServiceConfig>;
