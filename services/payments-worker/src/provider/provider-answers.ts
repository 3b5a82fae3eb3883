/**
 * What the provider's answers mean for the money. The PSP documents one
 * final "no": a payout that settles `failed` with a decline code
 * (`payout.failed`, `failureCode: "declined"`), or a payout request answered
 * 422 with one of those codes. Those, and only those, release a hold.
 * Everything else the provider can say that is not a payout (any other 4xx,
 * any 4xx to a look-up, a look-up that does not know a payout that may have
 * been sent) says nothing certain about whether money left: the saga is put
 * aside for a person to look at, never failed.
 */

/** The provider's documented decline codes (services/psp-simulator: a declined payout settles failed with `declined`). */
export const DOCUMENTED_DECLINE_CODES: readonly string[] = ['declined'];

/** The status a provider uses for a synchronous decline of a payout request. */
export const DECLINE_STATUS = 422;

/** Why a saga waits for review: a closed set (metric label values, saga column). */
export type ReviewReason =
  /** A 4xx to a payout request that is not a documented decline (401 after a credential change, 409 key in use, 404…). */
  | 'unexpected_refusal'
  /** A 4xx to a look-up: the provider did not say whether it holds the payout. */
  | 'look_up_refused'
  /** The look-up finds no payout although one may have been sent (an earlier request got no answer, or it was accepted). */
  | 'payout_not_found'
  /** The payout settled failed with a code the provider does not document as a decline. */
  | 'unknown_failure_code';

export const REVIEW_REASONS: readonly ReviewReason[] = [
  'unexpected_refusal',
  'look_up_refused',
  'payout_not_found',
  'unknown_failure_code',
];

export type RefusalClass =
  | { readonly final: true; readonly code: string }
  | { readonly final: false; readonly reason: ReviewReason };

/** A 4xx answer to a provider call: a documented decline of a payout request is final; anything else goes to review. */
export function classifyRefusal(
  operation: 'create' | 'look_up',
  status: number,
  code: string,
  declineCodes: readonly string[] = DOCUMENTED_DECLINE_CODES,
): RefusalClass {
  if (operation === 'look_up') return { final: false, reason: 'look_up_refused' };
  if (status === DECLINE_STATUS && declineCodes.includes(code)) return { final: true, code };
  return { final: false, reason: 'unexpected_refusal' };
}

/** A payout the provider reports failed: final only with a documented decline code. */
export function classifyFailure(
  failureCode: string | null,
  declineCodes: readonly string[] = DOCUMENTED_DECLINE_CODES,
): RefusalClass {
  if (failureCode !== null && declineCodes.includes(failureCode)) return { final: true, code: failureCode };
  return { final: false, reason: 'unknown_failure_code' };
}

/** The failure reason the wallet (and so every public status) gets for a decline: bounded, never the provider's text. */
export function declineReason(code: string): string {
  return `provider_declined:${code}`;
}

const SAFE_CODE = /^[a-z0-9_]{1,48}$/;

/** A code taken from a provider body only when it looks like one (short, lower snake case); else a fixed word. */
export function boundedCode(raw: unknown, status: number): string {
  return typeof raw === 'string' && SAFE_CODE.test(raw) ? raw : `http_${status}`;
}

/**
 * A provider body fit for a debug log: cut to `max` characters, with
 * anything that looks like a secret, an account number or an e-mail
 * address masked.
 */
export function redactBody(text: string, max = 300): string {
  return text
    .slice(0, max)
    .replace(/("(?:[a-z_]*(?:token|secret|password|key|iban|account|card|pan)[a-z_]*)"\s*:\s*)"[^"]*"/gi, '$1"[redacted]"')
    .replace(/\b((?:token|secret|password|bearer|api[_ -]?key)\s*[:=]?\s+)[^\s"',;]+/gi, '$1[redacted]')
    .replace(/\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]+/g, '[redacted]')
    .replace(/\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}\b/g, '[redacted]')
    .replace(/[A-Z]{2}\d{2}[A-Z0-9]{10,30}/g, '[redacted]')
    .replace(/\b\d{12,19}\b/g, '[redacted]')
    .replace(/[^\s"@]+@[^\s"@]+\.[^\s"@]+/g, '[redacted]');
}
