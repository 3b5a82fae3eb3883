import { commonEnv, env, metricsEnv, metricsPortDiffers, z } from '@sluice/config';

const rate = (def: number) => env.number(def, 0).pipe(z.number().max(1));

/**
 * The payment provider stand-in: a payout API with idempotency keys and
 * signed webhooks, with faults that can be changed at run time
 * (PUT /admin/faults); these are their values at start.
 */
export const pspSimulatorConfig = z
  .object({
    SLUICE_ENV: commonEnv.SLUICE_ENV,
    LOG_LEVEL: commonEnv.LOG_LEVEL,
    HOST: commonEnv.HOST,
    SHUTDOWN_DEADLINE_MS: commonEnv.SHUTDOWN_DEADLINE_MS,
    PORT: env.port(3002),
    ...metricsEnv,
    /** Where webhooks go (the payments worker's endpoint). Empty: none are sent. */
    PSP_WEBHOOK_URL: z.union([z.literal(''), z.string().url()]).default('http://127.0.0.1:3030/v1/psp/webhooks'),
    /** Shared with the receiver, which checks each webhook's HMAC-SHA256 signature with it. */
    PSP_WEBHOOK_SECRET: z.string().min(16).default('sluice-local-psp-webhook-secret'),
    /** Time from accepting a payout to paying it (or declining it). */
    PSP_SETTLE_MS: env.int(200, 0, 3_600_000),
    /** Webhook deliveries that failed are retried with backoff up to this pause, for PSP_WEBHOOK_MAX_ATTEMPTS attempts. */
    PSP_WEBHOOK_RETRY_MAX_MS: env.int(5_000, 10),
    PSP_WEBHOOK_MAX_ATTEMPTS: env.int(50, 1, 10_000),
    PSP_LATENCY_MS: env.int(0, 0, 600_000),
    PSP_ERROR_RATE: rate(0),
    PSP_DOWN: env.bool(false),
    PSP_DECLINE_RATE: rate(0),
    PSP_WEBHOOK_DUPLICATE_RATE: rate(0),
    PSP_WEBHOOK_REORDER_RATE: rate(0),
    PSP_WEBHOOK_DELAY_MS: env.int(0, 0, 600_000),
  })
  .refine(...metricsPortDiffers);

export type PspSimulatorConfig = z.infer<typeof pspSimulatorConfig>;
