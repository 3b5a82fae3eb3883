import { z } from '@sluice/config';

const share = z.number().min(0).max(1);

/**
 * What can go wrong at the provider, changeable at run time:
 * - latencyMs: added to every payout API call;
 * - errorRate: share of payout API calls answered 5xx; half of those fail
 *   after the payout was executed (the answer is lost, as when a connection
 *   drops), so only an idempotency key keeps a retry from paying twice;
 * - down: a full outage: the payout API drops every connection and no
 *   webhook leaves;
 * - declineRate: share of new payouts the provider refuses for good;
 * - webhookDuplicateRate: share of webhooks sent twice;
 * - webhookReorderRate: share of payouts whose "pending" webhook is held
 *   back until after the final one (out of order);
 * - webhookDelayMs: each webhook waits a random time up to this;
 * - refuseStatus (a 4xx, 0 for none), refuseCode, refuseRoute: payout API
 *   calls on that route (create, look_up, all) are answered with that
 *   status and code and do nothing, as after a credential rotation (401) or
 *   a look-up that cannot find what it was asked for (404);
 * - webhooksHeld: no webhook leaves (they wait, and go once it is false);
 * - keyInUseConflict: a payout request whose idempotency key another
 *   request is still being processed under is answered 409
 *   idempotency_key_in_use (as many providers do) instead of waiting.
 */
export const Faults = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000),
    errorRate: share,
    down: z.boolean(),
    declineRate: share,
    webhookDuplicateRate: share,
    webhookReorderRate: share,
    webhookDelayMs: z.number().int().min(0).max(600_000),
    refuseStatus: z.union([z.literal(0), z.number().int().min(400).max(499)]),
    refuseCode: z.string().regex(/^[a-z0-9_]{1,48}$/),
    refuseRoute: z.enum(['create', 'look_up', 'all']),
    keyInUseConflict: z.boolean(),
    webhooksHeld: z.boolean(),
  })
  .strict();

export type Faults = z.infer<typeof Faults>;

/** PUT /admin/faults takes any subset; what it leaves out keeps its value. */
export const FaultsPatch = Faults.partial().strict();
