import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError, badRequest, conflict, unprocessable } from './errors';

/** The table every service keeps in its own schema for Idempotency-Key (see IDEMPOTENCY_TABLE_SQL). */
export const IDEMPOTENCY_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope         TEXT        NOT NULL,
  key           TEXT        NOT NULL,
  request_hash  TEXT        NOT NULL,
  status_code   INTEGER,
  content_type  TEXT,
  response_body TEXT,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at  TIMESTAMPTZ,
  PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at_idx ON idempotency_keys (created_at);`;

/** What the middleware needs from the database: one statement at a time on the service's schema. */
export interface SqlRunner {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const RETENTION_HOURS = 24;

interface StoredKey {
  request_hash: string;
  status_code: number | null;
  content_type: string | null;
  response_body: string | null;
}

/**
 * For answers that carry secrets (API keys, tokens, payment details): the stored answer is sealed (e.g.
 * AES-GCM, `aad` binds it to scope and key) and the request fingerprint is a keyed MAC, so neither the
 * answer nor a guessable hash of the request body lands in the database in the clear.
 */
export interface IdempotencyOptions {
  protect?: {
    seal(text: string, aad: string): string;
    open(stored: string, aad: string): string;
    mac(material: string): string;
  };
}

/**
 * API.md's Idempotency-Key for POSTs. The key is claimed before the handler runs, so two racing requests
 * with one key never both execute: the loser gets 409 IDEMPOTENCY.IN_PROGRESS. The answer is stored
 * when the response finishes; the same key and body then replays it, another body is a 422. A 5xx frees
 * the key so the client may retry. Keys are scoped per caller and kept 24 hours.
 */
export function idempotency(db: SqlRunner, options: IdempotencyOptions = {}): RequestHandler {
  const { protect } = options;
  return async (req, res, next) => {
    const key = req.header('idempotency-key');
    if (req.method !== 'POST' || key === undefined) return next();
    if (!KEY_PATTERN.test(key)) throw badRequest('IDEMPOTENCY.INVALID_KEY', 'Idempotency-Key must be 1–255 visible ASCII characters.');
    const scope = req.identity ? `user:${req.identity.userId}` : `ip:${req.ip}`;
    const material = `${req.method} ${req.baseUrl}${req.path}\n${JSON.stringify(req.body ?? null)}`;
    const requestHash = protect ? protect.mac(material) : createHash('sha256').update(material).digest('hex');

    const claimed = await db.query(
      `INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status_code = NULL, content_type = NULL,
         response_body = NULL, created_at = now(), completed_at = NULL
       WHERE idempotency_keys.created_at < now() - interval '${RETENTION_HOURS} hours'
       RETURNING 1`,
      [scope, key, requestHash],
    );
    if (claimed.length === 0) return replay(await db.query<StoredKey>('SELECT request_hash, status_code, content_type, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key]));

    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : body === undefined ? '' : JSON.stringify(body);
      const status = res.statusCode;
      const finish =
        status >= 500
          ? db.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key])
          : db.query('UPDATE idempotency_keys SET status_code = $3, content_type = $4, response_body = $5, completed_at = now() WHERE scope = $1 AND key = $2', [
              scope, key, status, String(res.getHeader('content-type') ?? 'application/json'), protect ? protect.seal(text, `${scope}\n${key}`) : text,
            ]);
      // Store before answering: once the client has the answer, a retry must find it.
      finish.then(() => send(body), (error: unknown) => next(error));
      return res;
    };
    next();

    function replay([stored]: StoredKey[]) {
      if (!stored) throw conflict('IDEMPOTENCY.IN_PROGRESS', 'A request with this Idempotency-Key is in progress.');
      if (stored.request_hash !== requestHash) throw unprocessable('IDEMPOTENCY.KEY_REUSED', 'This Idempotency-Key was used with a different request.');
      if (stored.status_code === null) throw conflict('IDEMPOTENCY.IN_PROGRESS', 'A request with this Idempotency-Key is in progress.');
      res.status(stored.status_code).setHeader('Idempotency-Replayed', 'true');
      if (stored.content_type) res.setHeader('Content-Type', stored.content_type);
      res.end(stored.response_body && protect ? protect.open(stored.response_body, `${scope}\n${key}`) : (stored.response_body ?? ''));
    }
  };
}

export { AppError };
