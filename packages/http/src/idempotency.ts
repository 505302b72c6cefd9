import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { SqlRunner } from '@orrange/db';
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

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const RETENTION_HOURS = 24;

export interface StoredKey {
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

/** A request's Idempotency-Key, scoped to its caller, with the fingerprint of what was asked. */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  requestHash: string;
}

/** The claim of a POST that carries Idempotency-Key (undefined for any other request); 400 for a malformed key. */
export function claimOf(req: Request, protect?: IdempotencyOptions['protect']): IdempotencyClaim | undefined {
  const key = req.header('idempotency-key');
  if (req.method !== 'POST' || key === undefined) return undefined;
  if (!KEY_PATTERN.test(key))
    throw badRequest('IDEMPOTENCY.INVALID_KEY', 'Idempotency-Key must be 1–255 visible ASCII characters.');
  const scope = req.identity ? `user:${req.identity.userId}` : `ip:${req.ip}`;
  const material = `${req.method} ${req.baseUrl}${req.path}\n${JSON.stringify(req.body ?? null)}`;
  return {
    scope,
    key,
    requestHash: protect ? protect.mac(material) : createHash('sha256').update(material).digest('hex'),
  };
}

/**
 * The answer to a request whose key was claimed before: 409 while the first is still running, 422 when it asked
 * something else, else the first answer again (status, type and body), marked Idempotency-Replayed.
 */
export function replayStored(
  res: Response,
  stored: StoredKey | undefined,
  claim: IdempotencyClaim,
  open?: (stored: string) => string,
): void {
  if (!stored) throw conflict('IDEMPOTENCY.IN_PROGRESS', 'A request with this Idempotency-Key is in progress.');
  if (stored.request_hash !== claim.requestHash)
    throw unprocessable('IDEMPOTENCY.KEY_REUSED', 'This Idempotency-Key was used with a different request.');
  if (stored.status_code === null)
    throw conflict('IDEMPOTENCY.IN_PROGRESS', 'A request with this Idempotency-Key is in progress.');
  res.status(stored.status_code).setHeader('Idempotency-Replayed', 'true');
  if (stored.content_type) res.setHeader('Content-Type', stored.content_type);
  res.end(stored.response_body && open ? open(stored.response_body) : (stored.response_body ?? ''));
}

/** The stored answer of a claimed key, if any. */
export async function storedAnswer(db: SqlRunner, claim: IdempotencyClaim): Promise<StoredKey | undefined> {
  const [stored] = await db.query<StoredKey>(
    'SELECT request_hash, status_code, content_type, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2',
    [claim.scope, claim.key],
  );
  return stored;
}

/**
 * Claims keys that are new or older than the retention (one statement for several). A key held by a transaction
 * that has not ended yet makes this wait for it, so two requests with one key never both run. Keys are claimed
 * in a fixed order, so that two transactions claiming overlapping keys wait for each other instead of deadlocking.
 * Returns one row per key claimed now.
 */
export function claimKeysSql(param: string): string {
  return `INSERT INTO idempotency_keys (scope, key, request_hash)
    SELECT c.scope, c.key, c.request_hash FROM jsonb_to_recordset(${param}::jsonb) AS c(scope text, key text, request_hash text) ORDER BY c.scope, c.key
    ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status_code = NULL, content_type = NULL,
      response_body = NULL, created_at = now(), completed_at = NULL
    WHERE idempotency_keys.created_at < now() - interval '${RETENTION_HOURS} hours'
    RETURNING scope, key`;
}

/** Keys deleted by one purge statement: a short transaction that never holds many row locks at once. */
export const IDEMPOTENCY_PURGE_BATCH = 1_000;

/**
 * Deletes one batch of keys past the retention (24 h; older ones are claimed anew anyway, see claimKeysSql) and
 * says how many it deleted: without it every key ever sent would stay. Oldest first, through the created_at index.
 */
export async function purgeExpiredIdempotencyKeys(db: SqlRunner, batch = IDEMPOTENCY_PURGE_BATCH): Promise<number> {
  const rows = await db.query(
    `DELETE FROM idempotency_keys WHERE (scope, key) IN (
       SELECT scope, key FROM idempotency_keys WHERE created_at < now() - interval '${RETENTION_HOURS} hours' ORDER BY created_at LIMIT $1
       FOR UPDATE SKIP LOCKED)
     RETURNING 1`,
    [batch],
  );
  return rows.length;
}

/**
 * Finds the rows of the keys in a JSON array of {scope, key} at `param` through the primary key. Joined only to
 * jsonb_to_recordset (which the planner takes for 100 rows), the table is read by a sequential scan once it is
 * past a few pages: every answer stored cost time in proportion to all keys of the last 24 hours (measured:
 * 380,000 rows read for 900 orders). The `= ANY` arrays let the planner use the key's index at every size.
 */
function keysIndexed(param: string): string {
  return `k.scope = ANY(ARRAY(SELECT jsonb_array_elements(${param}::jsonb)->>'scope')) AND k.key = ANY(ARRAY(SELECT jsonb_array_elements(${param}::jsonb)->>'key'))`;
}

/** Stores the answers of claimed keys (status, content type, body as sent). */
export function completeKeysSql(param: string): string {
  return `UPDATE idempotency_keys k SET status_code = a.status_code, content_type = a.content_type, response_body = a.response_body, completed_at = now()
    FROM jsonb_to_recordset(${param}::jsonb) AS a(scope text, key text, status_code int, content_type text, response_body text)
    WHERE k.scope = a.scope AND k.key = a.key AND ${keysIndexed(param)}`;
}

/** Deletes claimed keys (see keysIndexed). */
export function releaseKeysSql(param: string): string {
  return `DELETE FROM idempotency_keys k USING jsonb_to_recordset(${param}::jsonb) AS c(scope text, key text)
    WHERE k.scope = c.scope AND k.key = c.key AND ${keysIndexed(param)}`;
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
    const claim = claimOf(req, protect);
    if (!claim) return next();
    const { scope, key } = claim;
    const claimed = await db.query(claimKeysSql('$1'), [
      JSON.stringify([{ scope, key, request_hash: claim.requestHash }]),
    ]);
    if (claimed.length === 0)
      return replayStored(
        res,
        await storedAnswer(db, claim),
        claim,
        protect && ((stored) => protect.open(stored, `${scope}\n${key}`)),
      );

    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      const text =
        typeof body === 'string'
          ? body
          : Buffer.isBuffer(body)
            ? body.toString('utf8')
            : body === undefined
              ? ''
              : JSON.stringify(body);
      const status = res.statusCode;
      const finish =
        status >= 500
          ? db.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key])
          : db.query(completeKeysSql('$1'), [
              JSON.stringify([
                {
                  scope,
                  key,
                  status_code: status,
                  content_type: String(res.getHeader('content-type') ?? 'application/json'),
                  response_body: protect ? protect.seal(text, `${scope}\n${key}`) : text,
                },
              ]),
            ]);
      // Store before answering: once the client has the answer, a retry must find it.
      finish.then(
        () => send(body),
        (error: unknown) => next(error),
      );
      return res;
    };
    next();
  };
}

export { AppError };
