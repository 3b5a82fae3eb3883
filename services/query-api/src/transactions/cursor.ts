import { problems } from '@sluice/http';

/**
 * An opaque page cursor: the wallet and the version below which the next page
 * starts, base64url. Clients pass it back unchanged; it stays valid however
 * many items arrive meanwhile, since newer items sort before it.
 */
export function encodeCursor(walletId: string, beforeVersion: number): string {
  return Buffer.from(JSON.stringify({ w: walletId, v: beforeVersion }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, walletId: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const { w, v } = (parsed ?? {}) as { w?: unknown; v?: unknown };
  if (w !== walletId || typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw problems.badRequest('invalid_cursor', 'Invalid cursor', 'the cursor is not one this endpoint returned for this wallet');
  }
  return v;
}
