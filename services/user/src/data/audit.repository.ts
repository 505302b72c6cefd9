import type { SqlRunner, Statement } from '@orrange/db';
import type { UserClient } from './prisma';

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

/** Rows deleted by one retention statement: a short one, however long the log grew. */
export const AUDIT_PURGE_BATCH = 1_000;

const MS_PER_DAY = 86_400_000;

/**
 * Deletes one batch of the oldest audit rows older than `days` days; says how many it deleted. Two statements
 * without a transaction: another replica's sweep deleting the same rows meanwhile only makes the count smaller.
 */
export async function purgeAuditLog(db: UserClient, days: number, batch = AUDIT_PURGE_BATCH): Promise<number> {
  const oldest = await db.auditLog.findMany({
    where: { at: { lt: new Date(Date.now() - days * MS_PER_DAY) } },
    orderBy: { at: 'asc' },
    take: batch,
    select: { id: true },
  });
  if (oldest.length === 0) return 0;
  const { count } = await db.auditLog.deleteMany({ where: { id: { in: oldest.map((row) => row.id) } } });
  return count;
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

/** The audit row of an entry, as both writers below store it. */
function auditRow(context: AuditContext, entry: AuditEntry) {
  return {
    action: entry.action,
    actorId: context.actorId,
    targetId: entry.targetId,
    ip: context.ip,
    requestId: context.requestId,
    metadata: entry.metadata ?? {},
  };
}

export async function insertAudit(db: UserClient, context: AuditContext, entry: AuditEntry): Promise<void> {
  await db.auditLog.create({ data: auditRow(context, entry), select: { id: true } });
}

/**
 * insertAudit as hand-written SQL, for the two writers on the pg pool: the event consumer's pg transaction, whose
 * reputation writes keep it there (stats.repository.ts, measured) and which commits the entry with the event's inbox
 * row, and login (login.repository.ts, measured).
 */
export function auditInsert(context: AuditContext, entry: AuditEntry): Statement {
  const row = auditRow(context, entry);
  return {
    sql: 'INSERT INTO audit_log (action, actor_id, target_id, ip, request_id, metadata) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
    params: [row.action, row.actorId, row.targetId, row.ip, row.requestId, JSON.stringify(row.metadata)],
  };
}

export async function insertAuditSql(sql: SqlRunner, context: AuditContext, entry: AuditEntry): Promise<void> {
  const statement = auditInsert(context, entry);
  await sql.query(statement.sql, statement.params);
}

/** Newest first, before the id `beforeId` (the last row of the previous page) when given. */
export async function listAudit(db: UserClient, limit: number, beforeId: string | undefined): Promise<AuditRow[]> {
  const rows = await db.auditLog.findMany({
    where: beforeId === undefined ? {} : { id: { lt: BigInt(beforeId) } },
    orderBy: { id: 'desc' },
    take: limit,
  });
  return rows.map((row) => ({
    ...row,
    id: row.id.toString(),
    action: row.action as AuditAction,
    metadata: row.metadata as Record<string, unknown>,
  }));
}
