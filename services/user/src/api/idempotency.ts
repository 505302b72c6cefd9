import type { RequestHandler } from 'express';
import { idempotency } from '@orrange/http';
import type { Deps } from '../domain/deps';
import { idempotencyProtection } from '@orrange/secrets';

/**
 * Idempotency-Key for this service's creating POSTs. Their answers carry secrets (tokens, API keys,
 * payment details), so the stored answer is AES-GCM sealed and the request fingerprint is a keyed MAC.
 */
export function protectedIdempotency(deps: Deps): RequestHandler {
  return idempotency(deps.db, { protect: idempotencyProtection(deps.encryption) });
}
