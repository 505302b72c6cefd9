import type { Request, RequestHandler, Response } from 'express';
import {
  claimKeysSql,
  claimOf,
  completeKeysSql,
  releaseKeysSql,
  replayStored,
  storedAnswer,
  type IdempotencyClaim,
} from './idempotency';
import type { SqlRunner } from '@orrange/db';

/** Thrown by a use case whose claim of an Idempotency-Key found the key taken: the stored answer is replayed. */
export class IdempotencyKeyTaken extends Error {
  constructor(readonly claim: IdempotencyClaim) {
    super('idempotency key taken');
    this.name = 'IdempotencyKeyTaken';
  }
}

/** The content type the stored answer of a JSON success is replayed with (what express's res.json sets). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Idempotency-Key for a route whose use case records the key in its own transaction, instead of two statements
 * of their own around it (a claim before, the answer after: two more commits per request on the hottest path).
 * The handler gets the request's claim and hands it to the use case, which claims the key in its transaction's
 * first round trip and stores its success answer with the COMMIT (see claimKeysSql and completeKeysSql): the
 * change and its record commit together or not at all. A key taken already makes the use case throw
 * IdempotencyKeyTaken, and the stored answer is replayed as by `idempotency`. A 4xx answer, whose transaction
 * rolled back or left the key free, is stored here once sent (a retry then gets it again); a 5xx stores nothing,
 * so the client may retry.
 */
export function idempotentInTransaction(
  db: SqlRunner,
  handler: (req: Request, res: Response, claim: IdempotencyClaim | undefined) => Promise<void>,
): RequestHandler {
  return async (req, res, next) => {
    const claim = claimOf(req);
    if (!claim) return handler(req, res, undefined);
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      if (res.statusCode < 400 || res.statusCode >= 500) return send(body);
      const text =
        typeof body === 'string'
          ? body
          : Buffer.isBuffer(body)
            ? body.toString('utf8')
            : body === undefined
              ? ''
              : JSON.stringify(body);
      const answer = {
        scope: claim.scope,
        key: claim.key,
        request_hash: claim.requestHash,
        status_code: res.statusCode,
        content_type: String(res.getHeader('content-type') ?? JSON_CONTENT_TYPE),
        response_body: text,
      };
      // Store before answering: once the client has the answer, a retry must find it. A key taken meanwhile keeps
      // whatever its holder stores.
      storeAnswer(db, answer).then(
        () => send(body),
        (error: unknown) => next(error),
      );
      return res;
    };
    try {
      await handler(req, res, claim);
    } catch (error) {
      if (!(error instanceof IdempotencyKeyTaken)) throw error;
      res.send = send;
      replayStored(res, await storedAnswer(db, claim), claim);
    }
  };
}

async function storeAnswer(db: SqlRunner, answer: Record<string, unknown>): Promise<void> {
  await db.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, status_code, content_type, response_body, completed_at)
     SELECT a.scope, a.key, a.request_hash, a.status_code, a.content_type, a.response_body, now()
     FROM jsonb_to_record($1::jsonb) AS a(scope text, key text, request_hash text, status_code int, content_type text, response_body text)
     ON CONFLICT (scope, key) DO NOTHING`,
    [JSON.stringify(answer)],
  );
}

/** The rows completeKeysSql takes for success answers sent with res.json. */
export function jsonAnswer(claim: IdempotencyClaim, status: number, body: unknown): Record<string, unknown> {
  return {
    scope: claim.scope,
    key: claim.key,
    status_code: status,
    content_type: JSON_CONTENT_TYPE,
    response_body: JSON.stringify(body),
  };
}

/** What can send a write with its transaction's COMMIT (a `Tx` of @orrange/db). */
interface CommitBatch {
  defer(sql: string, params?: unknown[]): void;
}

/** The statement that claims keys inside the use case's transaction (its rows: the keys claimed now). */
export function claimKeysStatement(claims: IdempotencyClaim[]): { sql: string; params: unknown[] } {
  return {
    sql: claimKeysSql('$1'),
    params: [JSON.stringify(claims.map((c) => ({ scope: c.scope, key: c.key, request_hash: c.requestHash })))],
  };
}

/** Whether the claim statement's rows include this claim. */
export function wasClaimed(rows: unknown[], claim: IdempotencyClaim): boolean {
  return (rows as Array<{ scope: string; key: string }>).some((r) => r.scope === claim.scope && r.key === claim.key);
}

/** Stores success answers with the transaction's COMMIT: the change and its record commit together. */
export function storeAnswersWithCommit(tx: CommitBatch, answers: Array<Record<string, unknown>>): void {
  if (answers.length > 0) tx.defer(completeKeysSql('$1'), [JSON.stringify(answers)]);
}

/** Frees keys claimed in a transaction that commits without their requests' change (their 4xx is stored once sent). */
export function releaseKeysWithCommit(tx: CommitBatch, claims: IdempotencyClaim[]): void {
  if (claims.length === 0) return;
  tx.defer(releaseKeysSql('$1'), [JSON.stringify(claims.map((c) => ({ scope: c.scope, key: c.key })))]);
}
