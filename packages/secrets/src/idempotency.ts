import type { SealedColumn } from './reseal';
import { fingerprint, openText, sealedTextPrefix, sealToText, type EncryptionKeyring } from './sealing';

/** The AAD prefix of stored Idempotency-Key answers: `idempotency:<scope>\n<key>`. */
const IDEMPOTENCY_AAD = 'idempotency:';

/**
 * What @orrange/http's idempotency() takes as `protect`, for a service whose answers carry secrets (tokens, payment
 * details, chat, evidence): the stored answer is sealed under the keyring, bound to its scope and key, and the
 * request fingerprint is a keyed MAC instead of a guessable hash of the body.
 */
export function idempotencyProtection(keyring: EncryptionKeyring) {
  return {
    seal: (text: string, aad: string) => sealToText(keyring, text, `${IDEMPOTENCY_AAD}${aad}`),
    open: (stored: string, aad: string) => openStoredAnswer(keyring, stored, aad),
    mac: (material: string) => fingerprint(keyring, material),
  };
}

/**
 * A stored answer in the clear: opened when sealed, as it is when stored before the service sealed its answers
 * (those are JSON, and never start like a sealed value does).
 */
function openStoredAnswer(keyring: EncryptionKeyring, stored: string, aad: string): string {
  return stored.startsWith(sealedTextPrefix()) ? openText(keyring, stored, `${IDEMPOTENCY_AAD}${aad}`) : stored;
}

interface StoredAnswerRow {
  cursor: string;
  scope: string;
  key: string;
  response_body: string;
}

/**
 * The stored answers of a service's `idempotency_keys` (its own schema, on its search path) for the re-encryption
 * command: every answer not sealed under the active key, those stored in the clear before sealing included.
 */
export function idempotencyAnswers(name: string): SealedColumn<StoredAnswerRow> {
  return {
    name,
    stale: (tx, activeKid, after, limit) =>
      tx.query<StoredAnswerRow>(
        `SELECT json_build_array(scope, key)::text AS cursor, scope, key, response_body FROM idempotency_keys
          WHERE response_body IS NOT NULL AND response_body <> '' AND left(response_body, length($1)) <> $1
            AND ($2::text IS NULL OR (scope, key) > ($2::json->>0, $2::json->>1))
          ORDER BY scope, key LIMIT $3 FOR UPDATE`,
        [sealedTextPrefix(activeKid), after, limit],
      ),
    async reseal(tx, keyring, row) {
      const protection = idempotencyProtection(keyring);
      const aad = `${row.scope}\n${row.key}`;
      await tx.query('UPDATE idempotency_keys SET response_body = $3 WHERE scope = $1 AND key = $2', [
        row.scope,
        row.key,
        protection.seal(protection.open(row.response_body, aad), aad),
      ]);
    },
  };
}
