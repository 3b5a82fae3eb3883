import { createHash } from 'node:crypto';
import { fullJitterDelay } from '@sluice/resilience';
import type { WalletCommandMessage } from '@sluice/schemas';
import {
  classifyFailure,
  classifyRefusal,
  declineReason,
  DOCUMENTED_DECLINE_CODES,
  type ReviewReason,
} from '../provider/provider-answers';

/**
 * needs_review: the provider's answers do not say whether money left (see
 * provider-answers). The saga holds the withdrawal as it is, takes no step
 * and sends nothing until a person resolves it (`payouts resolve`).
 */
export type SagaState = 'requested' | 'submitted' | 'completed' | 'failed' | 'needs_review';
export const ACTIVE_STATES: readonly SagaState[] = ['requested', 'submitted'];

/** What the saga knows of one withdrawal (a row of payment_sagas). */
export interface Saga {
  readonly withdrawalId: string;
  readonly walletId: string;
  readonly amount: number;
  readonly currency: string;
  readonly state: SagaState;
  readonly provider: string;
  readonly providerReference: string | null;
  readonly attempts: number;
  readonly requestedAt: Date;
  readonly submittedAt: Date | null;
  /** An earlier payout request may have reached the provider without an answer: a look-up that finds nothing is not proof of nothing. */
  readonly sendUncertain?: boolean;
  /** An old withdrawal (history replayed into a fresh store): the provider is asked before anything is sent. */
  readonly lookUpFirst?: boolean;
}

/** The provider's view of the payout. */
export interface PayoutView {
  readonly payoutId: string;
  readonly status: 'pending' | 'paid' | 'failed';
  readonly failureCode: string | null;
}

/**
 * What a step learned: the payout's state (from the payout call's answer, a
 * status look-up or a webhook), a refusal, or that no answer came. A look-up
 * that finds no payout is followed by sending it in the same step.
 */
export type Outcome =
  | { readonly kind: 'payout'; readonly payout: PayoutView; readonly source: 'answer' | 'look_up' | 'webhook' }
  /**
   * The provider answered a call with a 4xx. Final only when it is the
   * documented decline of a payout request; see provider-answers.
   * `code` is bounded (provider-answers' boundedCode), never the body.
   */
  | {
      readonly kind: 'refused';
      readonly operation: 'create' | 'look_up';
      readonly status: number;
      readonly code: string;
      readonly maybeSent?: boolean;
    }
  /** No answer: timed out, 5xx, connection refused, bulkhead full. The payout may or may not exist; `maybeSent` when a try may have been executed. */
  | { readonly kind: 'no_answer'; readonly error: string; readonly maybeSent?: boolean }
  /** The provider's circuit is open: nothing more was sent. */
  | { readonly kind: 'circuit_open'; readonly maybeSent?: boolean }
  /** A look-up found no payout for a withdrawal whose payout may have been sent or was accepted before. */
  | { readonly kind: 'not_found' };

/**
 * A wallet command the saga sends: the command topic's contract
 * (schemas/avro/wallet-commands, one declaration for sender and receiver); the
 * saga never deposits.
 */
export type WalletCommand = Exclude<WalletCommandMessage, { type: 'DepositFunds' }>;

export interface SagaTimings {
  now: number;
  /** After the provider accepted a payout, how long to wait for its final answer before asking for it. */
  answerDeadlineMs: number;
  /** A finished saga whose wallet has not confirmed the end (its event) by then has its command sent again. */
  reconfirmMs: number;
  /** Backoff between steps that got no answer: full jitter up to min(max, base × 2^attempts). */
  stepBackoffBaseMs: number;
  stepBackoffMaxMs: number;
  /** The provider's documented decline codes: the only failures that release a hold. */
  declineCodes?: readonly string[];
  random?: () => number;
}

/** The changes a decision makes to the saga row, and the commands it sends the wallet. */
export interface Decision {
  readonly patch: {
    state?: SagaState;
    providerReference?: string | null;
    attempts?: number;
    nextAttemptAt?: Date;
    parked?: boolean;
    submittedAt?: Date;
    finishedAt?: Date;
    failureReason?: string;
    lastError?: string | null;
    sendUncertain?: boolean;
    reviewReason?: ReviewReason;
  };
  readonly commands: WalletCommand[];
  /** For logs and metrics: what the decision did. */
  readonly action:
    | 'submitted'
    | 'completed'
    | 'failed'
    | 'retry_later'
    | 'parked'
    | 'needs_review'
    | 'wait_for_answer'
    | 'conflict'
    | 'ignored';
  /** A final answer that contradicts the saga's own end (paid after failed, failed after paid): recorded and flagged, never applied. */
  readonly conflict?: {
    readonly sagaState: 'completed' | 'failed';
    readonly reported: 'paid' | 'failed';
    readonly payoutId: string;
  };
}

const ISSUER = 'payments-worker';

/**
 * The saga's one decision: given where the withdrawal stands and what was
 * learned about its payout, the next state and the wallet commands to send.
 * Pure: time and randomness come in. Repeated and late news (a second
 * webhook, a "pending" after "paid") change nothing; a final state is never
 * left; no answer never fails a withdrawal (the payout might have happened),
 * it only moves the next look later.
 */
export function decide(saga: Saga, outcome: Outcome, t: SagaTimings): Decision {
  const final = saga.state === 'completed' || saga.state === 'failed';
  // Only a person moves a saga out of review.
  if (saga.state === 'needs_review') return ignored();
  const declineCodes = t.declineCodes ?? DOCUMENTED_DECLINE_CODES;
  switch (outcome.kind) {
    case 'payout': {
      if (final) return conflictOf(saga, outcome.payout) ?? ignored();
      const { payout } = outcome;
      const ref = payout.payoutId;
      const now = new Date(t.now);
      if (payout.status === 'pending') {
        if (saga.state === 'submitted') {
          // Still pending when looked up past its deadline: look again later. A repeated webhook says nothing new.
          if (outcome.source !== 'look_up') return ignored();
          return {
            patch: {
              attempts: saga.attempts + 1,
              nextAttemptAt: new Date(t.now + backoff(saga.attempts + 1, t, t.answerDeadlineMs)),
            },
            commands: [],
            action: 'wait_for_answer',
          };
        }
        return {
          patch: {
            state: 'submitted',
            providerReference: ref,
            submittedAt: now,
            attempts: 0,
            nextAttemptAt: new Date(t.now + t.answerDeadlineMs),
            parked: false,
            lastError: null,
          },
          commands: [markSubmitted(saga, ref)],
          action: 'submitted',
        };
      }
      // The first news may already be the final one: record the submission first, in order.
      const before = saga.state === 'requested' ? [markSubmitted(saga, ref)] : [];
      if (payout.status === 'paid') {
        return {
          patch: {
            state: 'completed',
            providerReference: ref,
            finishedAt: now,
            nextAttemptAt: reconfirmAt(t),
            parked: false,
            lastError: null,
          },
          commands: [...before, complete(saga, ref)],
          action: 'completed',
        };
      }
      const failure = classifyFailure(payout.failureCode, declineCodes);
      if (!failure.final)
        return review(failure.reason, `payout ${ref} failed with an undocumented code`, { providerReference: ref });
      const reason = declineReason(failure.code);
      return {
        patch: {
          state: 'failed',
          providerReference: ref,
          finishedAt: now,
          nextAttemptAt: reconfirmAt(t),
          failureReason: reason,
          parked: false,
          lastError: null,
        },
        commands: [...before, fail(saga, reason, `the provider declined the payout (${failure.code})`)],
        action: 'failed',
      };
    }
    case 'refused': {
      if (final) return ignored();
      const refusal = classifyRefusal(outcome.operation, outcome.status, outcome.code, declineCodes);
      const what = `${outcome.operation === 'create' ? 'payout request' : 'look-up'} answered ${outcome.status} ${outcome.code}`;
      // A decline of the request after it was accepted, or after a try that may have paid, proves nothing.
      if (!refusal.final || saga.state !== 'requested' || outcome.maybeSent === true || saga.sendUncertain === true) {
        return review(refusal.final ? 'unexpected_refusal' : refusal.reason, what, {});
      }
      const reason = declineReason(refusal.code);
      return {
        patch: {
          state: 'failed',
          finishedAt: new Date(t.now),
          nextAttemptAt: reconfirmAt(t),
          failureReason: reason,
          parked: false,
          lastError: what,
        },
        commands: [fail(saga, reason, `the provider declined the payout (${refusal.code})`)],
        action: 'failed',
      };
    }
    case 'not_found': {
      if (final) return ignored();
      return review('payout_not_found', 'the provider holds no payout for a withdrawal whose payout may have been sent', {});
    }
    case 'no_answer': {
      if (final) return ignored();
      const attempts = saga.attempts + 1;
      return {
        patch: {
          attempts,
          nextAttemptAt: new Date(t.now + backoff(attempts, t, t.stepBackoffBaseMs)),
          lastError: outcome.error.slice(0, 1_000),
          ...(outcome.maybeSent === true && { sendUncertain: true }),
        },
        commands: [],
        action: 'retry_later',
      };
    }
    case 'circuit_open':
      if (final) return ignored();
      return {
        patch: { parked: true, ...(outcome.maybeSent === true && { sendUncertain: true }) },
        commands: [],
        action: 'parked',
      };
    default: {
      const never: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
    }
  }
}

/**
 * What a due step does: a withdrawal not yet accepted is sent, unless an
 * earlier step got no answer (the payout may exist: look it up first); an
 * accepted one past its answer deadline is looked up.
 */
export function nextStep(saga: Saga): 'send_payout' | 'look_up' {
  return saga.state === 'requested' && saga.attempts === 0 && saga.lookUpFirst !== true ? 'send_payout' : 'look_up';
}

/**
 * What a look-up that found no payout leads to: send it (nothing reached
 * the provider), or, when a payout may exist that the provider does not
 * show (an earlier request went unanswered, or it was accepted), review.
 */
export function afterNotFound(saga: Saga): 'send_payout' | 'review' {
  return saga.state === 'submitted' || saga.sendUncertain === true ? 'review' : 'send_payout';
}

/**
 * A person's resolution of a saga under review: paid completes the
 * withdrawal (the hold leaves the balance), failed releases the hold. Both
 * send the same command ids as the saga itself would, so the wallet applies
 * each once.
 */
export function resolveReview(
  saga: Saga,
  resolution: 'paid' | 'failed',
  providerReference: string | null,
  t: SagaTimings,
): Decision {
  if (saga.state !== 'needs_review') throw new Error(`withdrawal ${saga.withdrawalId} is ${saga.state}, not under review`);
  const now = new Date(t.now);
  const ref = providerReference ?? saga.providerReference;
  // The wallet learns of the submission first when the saga never told it.
  const before = saga.submittedAt === null ? [markSubmitted(saga, ref)] : [];
  if (resolution === 'paid') {
    return {
      patch: { state: 'completed', providerReference: ref, finishedAt: now, nextAttemptAt: reconfirmAt(t), parked: false },
      commands: [...before, complete(saga, ref)],
      action: 'completed',
    };
  }
  return {
    patch: { state: 'failed', finishedAt: now, nextAttemptAt: reconfirmAt(t), failureReason: REVIEW_FAILED, parked: false },
    commands: [fail(saga, REVIEW_FAILED, 'the payout was found failed on review')],
    action: 'failed',
  };
}

/** The wallet's failure reason for a withdrawal failed on review. */
export const REVIEW_FAILED = 'provider_failed:review';

/** The idempotency key of a withdrawal's payout: derived, so every try and every worker uses the same one. */
export function idempotencyKeyOf(withdrawalId: string): string {
  return `wd_${withdrawalId.toLowerCase()}`;
}

/**
 * A wallet command's id, derived from the withdrawal and the step: a step
 * repeated after a crash sends the same id, and the wallet's inbox applies it
 * once. UUID version 8 (RFC 9562) from the first 122 bits of SHA-256.
 */
export function commandIdOf(withdrawalId: string, type: WalletCommand['type']): string {
  const bytes = createHash('sha256').update(`sluice.payments/${withdrawalId.toLowerCase()}/${type}`).digest().subarray(0, 16);
  bytes[6] = 0x80 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function markSubmitted(saga: Saga, ref: string | null): WalletCommand {
  return {
    type: 'MarkWithdrawalSubmitted',
    commandId: commandIdOf(saga.withdrawalId, 'MarkWithdrawalSubmitted'),
    walletId: saga.walletId,
    withdrawalId: saga.withdrawalId,
    provider: saga.provider,
    providerReference: ref,
    issuedBy: ISSUER,
  };
}

function complete(saga: Saga, ref: string | null): WalletCommand {
  return {
    type: 'CompleteWithdrawal',
    commandId: commandIdOf(saga.withdrawalId, 'CompleteWithdrawal'),
    walletId: saga.walletId,
    withdrawalId: saga.withdrawalId,
    providerReference: ref,
    issuedBy: ISSUER,
  };
}

function fail(saga: Saga, reason: string, detail: string): WalletCommand {
  return {
    type: 'FailWithdrawal',
    commandId: commandIdOf(saga.withdrawalId, 'FailWithdrawal'),
    walletId: saga.walletId,
    withdrawalId: saga.withdrawalId,
    reason,
    detail: detail.slice(0, 2_000),
    issuedBy: ISSUER,
  };
}

/**
 * The commands that finish a saga, again: for a finished saga whose wallet
 * has not shown the end in its events (the command was dead-lettered after
 * passing failures, say). The ids are the same as the first time, so a
 * command that did take effect is a duplicate to the wallet's inbox.
 */
export function finishingCommands(saga: Saga, failureReason: string | null): WalletCommand[] {
  if (saga.state === 'completed') return [complete(saga, saga.providerReference)];
  if (saga.state === 'failed') {
    const reason = failureReason ?? 'payout_failed';
    return [fail(saga, reason, 'the payout failed')];
  }
  return [];
}

function reconfirmAt(t: SagaTimings): Date {
  return new Date(t.now + t.reconfirmMs);
}

/** Full jitter up to min(max, base × 2^attempts), never under `floorMs`. */
function backoff(attempts: number, t: SagaTimings, floorMs: number): number {
  return Math.max(floorMs, fullJitterDelay(Math.min(attempts, 30) + 1, t.stepBackoffBaseMs, t.stepBackoffMaxMs, t.random));
}

function review(reason: ReviewReason, what: string, patch: { providerReference?: string }): Decision {
  return {
    patch: { state: 'needs_review', reviewReason: reason, lastError: what.slice(0, 1_000), parked: false, ...patch },
    commands: [],
    action: 'needs_review',
  };
}

function conflictOf(saga: Saga, payout: PayoutView): Decision | undefined {
  if (saga.state === 'completed' && payout.status === 'failed') {
    return {
      patch: {},
      commands: [],
      action: 'conflict',
      conflict: { sagaState: 'completed', reported: 'failed', payoutId: payout.payoutId },
    };
  }
  if (saga.state === 'failed' && payout.status === 'paid') {
    return {
      patch: {},
      commands: [],
      action: 'conflict',
      conflict: { sagaState: 'failed', reported: 'paid', payoutId: payout.payoutId },
    };
  }
  return undefined;
}

function ignored(): Decision {
  return { patch: {}, commands: [], action: 'ignored' };
}
