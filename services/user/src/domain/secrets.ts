import { createHash, randomBytes } from 'node:crypto';

const TOKEN_BYTES = 32;
export const API_KEY_PREFIX = 'orr_';

/** An opaque refresh token: 32 random bytes, base64url. Only its sha256 is ever stored. */
export function newRefreshToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** An API key as shown to its owner once: `orr_` + 32 random bytes, base64url. */
export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
}
