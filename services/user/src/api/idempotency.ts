import type { RequestHandler } from 'express';
import { idempotency } from '@orrange/http';
import type { Deps } from '../domain/deps';
import { fingerprint, openText, sealToText } from '@orrange/secrets';

/**
 * Idempotency-Key for this service's creating POSTs. Their answers carry secrets (tokens, API keys,
 * payment details), so the stored answer is AES-GCM sealed and the request fingerprint is a keyed MAC.
 */
export function protectedIdempotency(deps: Deps): RequestHandler {
  return idempotency(deps.db, {
    protect: {
      seal: (text, aad) => sealToText(deps.encryption, text, `idempotency:${aad}`),
      open: (stored, aad) => openText(deps.encryption, stored, `idempotency:${aad}`),
      mac: (material) => fingerprint(deps.encryption, material),
    },
  });
}
