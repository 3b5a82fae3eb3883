import { createHash } from 'node:crypto';

/**
 * The command id of a grant, derived from what the grant is for (campaign and
 * wallet): the same event delivered twice, or handled by two replicas, yields
 * the same command id, and the wallet's inbox applies it once. Formatted as a
 * UUID version 8 (RFC 9562, custom): the first 122 bits of SHA-256.
 */
export function grantCommandId(campaign: string, walletId: string): string {
  const bytes = createHash('sha256').update(`sluice.bonus/${campaign}/${walletId.toLowerCase()}`).digest().subarray(0, 16);
  bytes[6] = 0x80 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
