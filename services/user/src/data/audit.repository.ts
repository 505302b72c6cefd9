import type { SqlRunner } from '@orrange/db';

export type AuditAction =
  | 'user.registered'
  | 'auth.login.succeeded'
  | 'auth.login.failed'
  | 'auth.refresh.reused'
  | 'user.roles.changed'
  | 'user.status.changed'
  | 'api-key.created'
  | 'api-key.revoked'
  | 'payment-method.created'
  | 'payment-method.deleted'
  | 'withdrawal.approved'
  | 'withdrawal.rejected';

/** Rows deleted by one retention statement: a short transaction, however long the log grew. */
export const AUDIT_PURGE_BATCH = 1_000;

/** Deletes one batch of the oldest audit rows older than `days` days; says how many it deleted. */
export async function purgeAuditLog(sql: SqlRunner, days: number, batch = AUDIT_PURGE_BATCH): Promise<number> {
  const rows = await sql.query(
    `DELETE FROM audit_log WHERE id IN (
       SELECT id FROM audit_log WHERE at < now() - make_interval(days => $1) ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING 1`,
    [days, batch],
  );
  return rows.length;
}

/** Where a request came from; every audit row carries it. */
export interface AuditContext {
  actorId: string | null;
  ip: string | null;
  requestId: string | null;
}

export interface AuditEntry {
  action: AuditAction;
  targetId: string | null;
  /** Small and free of secrets: never a password, token, key or payment detail. */
  metadata?: Record<string, string | number | boolean | string[] | null>;
}

export interface AuditRow {
  id: string;
  at: Date;
  action: AuditAction;
  actorId: string | null;
  targetId: string | null;
  ip: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
}

export async function insertAudit(sql: SqlRunner, context: AuditContext, entry: AuditEntry): Promise<void> {
  await sql.query(
    `INSERT INTO audit_log (action, actor_id, target_id, ip, request_id, metadata) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
    [
      entry.action,
      context.actorId,
      entry.targetId,
      context.ip,
      context.requestId,
      JSON.stringify(entry.metadata ?? {}),
    ],
  );
}

/** Newest first, before the id `beforeId` (the last row of the previous page) when given. The ORDER BY names the table column: a bare `id` would be the text output column. */
export function listAudit(sql: SqlRunner, limit: number, beforeId: string | undefined): Promise<AuditRow[]> {
  return sql.query<AuditRow>(
    `SELECT id::text AS id, at, action, actor_id AS "actorId", target_id AS "targetId", ip, request_id AS "requestId", metadata
       FROM audit_log WHERE ($2::bigint IS NULL OR audit_log.id < $2::bigint) ORDER BY audit_log.id DESC LIMIT $1`,
    [limit, beforeId ?? null],
  );
}
