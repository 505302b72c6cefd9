import type { SqlRunner } from '@orrange/db';
import { ASSET_SCALES, ASSETS, fromUnits, numericUnits, type Asset } from '@orrange/money';
import {
  OPEN_WITHDRAWAL_STATES,
  RETURNED_WITHDRAWAL_STATES,
  type Withdrawal,
  type WithdrawalStatus,
  type WithdrawalTransition,
} from '../domain/withdrawal';

type Raw = {
  id: string;
  user_id: string;
  asset: Asset;
  amount: string;
  fee: string;
  address: string;
  network: string | null;
  status: WithdrawalStatus;
  txid: string | null;
  note: string | null;
  failure_reason: string | null;
  reviewed_by: string | null;
  send_attempts: number;
  last_send_error: string | null;
  created_at: Date;
  updated_at: Date;
};
const COLUMNS =
  'id, user_id, asset, amount::text, fee::text, address, network, status, txid, note, failure_reason, reviewed_by, send_attempts, last_send_error, created_at, updated_at';

const toWithdrawal = (r: Raw): Withdrawal => ({
  id: r.id,
  userId: r.user_id,
  asset: r.asset,
  amount: numericUnits(r.amount, ASSET_SCALES[r.asset]),
  fee: numericUnits(r.fee, ASSET_SCALES[r.asset]),
  address: r.address,
  network: r.network,
  status: r.status,
  txid: r.txid,
  note: r.note,
  failureReason: r.failure_reason,
  reviewedBy: r.reviewed_by,
  sendAttempts: r.send_attempts,
  lastSendError: r.last_send_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/**
 * Serializes the withdrawals of one user and asset until the transaction ends, so that two requests never both
 * pass the daily limit on the same remaining room.
 */
export async function lockWithdrawalsOf(tx: SqlRunner, userId: string, asset: Asset): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('withdrawals:' || $1 || ':' || $2, 0))`, [
    userId,
    asset,
  ]);
}

/** What the user withdrew (or is withdrawing) of an asset in the last 24 h, in units: everything not returned to them. */
export async function withdrawnInLastDay(tx: SqlRunner, userId: string, asset: Asset): Promise<bigint> {
  const [row] = await tx.query<{ total: string }>(
    `SELECT coalesce(sum(amount), 0)::text AS total FROM withdrawals
     WHERE user_id = $1 AND asset = $2 AND created_at > now() - interval '24 hours' AND status <> ALL($3::text[])`,
    [userId, asset, RETURNED_WITHDRAWAL_STATES],
  );
  return numericUnits(row!.total, ASSET_SCALES[asset]);
}

export async function insertWithdrawal(
  tx: SqlRunner,
  w: Pick<Withdrawal, 'id' | 'userId' | 'asset' | 'amount' | 'fee' | 'address'> & {
    network: string;
    status: 'PENDING_REVIEW' | 'APPROVED';
  },
): Promise<Withdrawal> {
  const scale = ASSET_SCALES[w.asset];
  const [row] = await tx.query<Raw>(
    `INSERT INTO withdrawals (id, user_id, asset, amount, fee, address, network, status, reviewed_by, reviewed_at, next_send_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8 = 'APPROVED' THEN 'auto' END, CASE WHEN $8 = 'APPROVED' THEN now() END, CASE WHEN $8 = 'APPROVED' THEN now() END)
     RETURNING ${COLUMNS}`,
    [w.id, w.userId, w.asset, fromUnits(w.amount, scale), fromUnits(w.fee, scale), w.address, w.network, w.status],
  );
  return toWithdrawal(row!);
}

export async function findWithdrawal(db: SqlRunner, id: string): Promise<Withdrawal | undefined> {
  const [row] = await db.query<Raw>(`SELECT ${COLUMNS} FROM withdrawals WHERE id = $1`, [id]);
  return row && toWithdrawal(row);
}

export interface TransitionChange {
  txid?: string | null;
  note?: string | null;
  failureReason?: string | null;
  reviewedBy?: string | null;
  /** An approval schedules the first send to custody. */
  scheduleSend?: boolean;
}

/**
 * The guarded state change every transition is: `from` → `to` only while the row is in one of `from` (and, with
 * `userId`, belongs to that user). Returns the row after the change and the status it left (read under the row's
 * lock, so it is the one the change was made from), or undefined when another transition got there first; the
 * caller's ledger movement goes in the same transaction.
 */
export async function transitionWithdrawal(
  tx: SqlRunner,
  id: string,
  from: readonly WithdrawalStatus[],
  to: WithdrawalStatus,
  change: TransitionChange = {},
  userId?: string,
): Promise<{ withdrawal: Withdrawal; from: WithdrawalStatus } | undefined> {
  const [row] = await tx.query<Raw & { prior_status: WithdrawalStatus }>(
    `WITH prior AS (SELECT id AS prior_id, status AS prior_status FROM withdrawals WHERE id = $1 FOR UPDATE)
     UPDATE withdrawals SET status = $3, updated_at = now(),
       txid = coalesce($4, txid), note = coalesce($5, note), failure_reason = coalesce($6, failure_reason),
       reviewed_by = coalesce($7, reviewed_by), reviewed_at = CASE WHEN $7::text IS NULL THEN reviewed_at ELSE now() END,
       next_send_at = CASE WHEN $8 THEN now() ELSE next_send_at END
     FROM prior
     WHERE id = prior_id AND prior_status = ANY($2::text[]) AND ($9::text IS NULL OR user_id = $9)
     RETURNING ${COLUMNS}, prior_status`,
    [
      id,
      from,
      to,
      change.txid ?? null,
      change.note ?? null,
      change.failureReason ?? null,
      change.reviewedBy ?? null,
      change.scheduleSend ?? false,
      userId ?? null,
    ],
  );
  return row && { withdrawal: toWithdrawal(row), from: row.prior_status };
}

export async function recordTransition(
  tx: SqlRunner,
  t: {
    withdrawalId: string;
    from: WithdrawalStatus | null;
    to: WithdrawalStatus;
    actor: string;
    note?: string | null;
    requestId?: string | null;
  },
): Promise<void> {
  await tx.query(
    'INSERT INTO withdrawal_transitions (withdrawal_id, from_status, to_status, actor, note, request_id) VALUES ($1, $2, $3, $4, $5, $6)',
    [t.withdrawalId, t.from, t.to, t.actor, t.note ?? null, t.requestId ?? null],
  );
}

export async function transitionsOf(db: SqlRunner, withdrawalId: string): Promise<WithdrawalTransition[]> {
  const rows = await db.query<{
    from_status: WithdrawalStatus | null;
    to_status: WithdrawalStatus;
    actor: string;
    note: string | null;
    at: Date;
  }>(
    'SELECT from_status, to_status, actor, note, at FROM withdrawal_transitions WHERE withdrawal_id = $1 ORDER BY id',
    [withdrawalId],
  );
  return rows.map((r) => ({
    from: r.from_status,
    to: r.to_status,
    actor: r.actor,
    note: r.note,
    at: r.at,
  }));
}

/** Newest first, the caller's (userId) or everyone's by status (admin); the cursor is the last row's (createdAt, id). */
export async function listWithdrawals(
  db: SqlRunner,
  filter: { userId?: string; status?: WithdrawalStatus },
  limit: number,
  before: { at: string; id: string } | null,
): Promise<Withdrawal[]> {
  const rows = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM withdrawals
     WHERE ($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)
       AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
     ORDER BY created_at DESC, id DESC LIMIT $5`,
    [filter.userId ?? null, filter.status ?? null, before?.at ?? null, before?.id ?? null, limit],
  );
  return rows.map(toWithdrawal);
}

/** Approved withdrawals custody has not taken yet whose next attempt is due, most overdue first. */
export async function dueWithdrawalIds(db: SqlRunner, limit: number, skipped: string[]): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM withdrawals WHERE status = 'APPROVED' AND submitted_at IS NULL AND next_send_at <= now() AND NOT (id::text = ANY($2::text[]))
     ORDER BY next_send_at LIMIT $1`,
    [limit, skipped],
  );
  return rows.map((r) => r.id);
}

/**
 * Claims a due send for `claimMs` (another replica's sweep skips it meanwhile) and counts the attempt. Undefined
 * when it is no longer due: another replica claimed it, custody took it, or it left APPROVED.
 */
export async function claimSend(db: SqlRunner, id: string, claimMs: number): Promise<Withdrawal | undefined> {
  const [row] = await db.query<Raw>(
    `UPDATE withdrawals SET next_send_at = now() + make_interval(secs => $2::double precision / 1000), send_attempts = send_attempts + 1
     WHERE id = $1 AND status = 'APPROVED' AND submitted_at IS NULL AND next_send_at <= now()
     RETURNING ${COLUMNS}`,
    [id, claimMs],
  );
  return row && toWithdrawal(row);
}

/** Custody has the withdrawal: it is sent no more (its webhooks move it on). */
export async function markSubmitted(db: SqlRunner, id: string): Promise<void> {
  await db.query(
    'UPDATE withdrawals SET submitted_at = now(), last_send_error = NULL WHERE id = $1 AND submitted_at IS NULL',
    [id],
  );
}

/** The send failed without an answer: parked until `retryInMs` from now, the error kept for operators. */
export async function parkSend(db: SqlRunner, id: string, retryInMs: number, error: string): Promise<void> {
  await db.query(
    `UPDATE withdrawals SET next_send_at = now() + make_interval(secs => $2::double precision / 1000), last_send_error = $3
     WHERE id = $1 AND status = 'APPROVED' AND submitted_at IS NULL`,
    [id, retryInMs, error.slice(0, 500)],
  );
}

export async function withdrawalCounts(db: SqlRunner): Promise<Array<{ status: WithdrawalStatus; n: number }>> {
  return db.query<{ status: WithdrawalStatus; n: number }>(
    'SELECT status, count(*)::int AS n FROM withdrawals GROUP BY status',
  );
}

/**
 * Per asset, what PENDING_WITHDRAWAL holds against what the open withdrawals say it should (amount + fee of every
 * withdrawal in OPEN_WITHDRAWAL_STATES), in units: the two are equal whenever every transition moved its money.
 */
export async function pendingWithdrawalCheck(
  tx: SqlRunner,
): Promise<Array<{ asset: Asset; held: bigint; owed: bigint }>> {
  const rows = await tx.query<{ asset: Asset; held: string; owed: string }>(
    `SELECT a.asset, coalesce(h.held, 0)::text AS held, coalesce(o.owed, 0)::text AS owed
     FROM unnest($1::text[]) AS a(asset)
     LEFT JOIN (SELECT asset, sum(balance) AS held FROM accounts WHERE kind = 'PENDING_WITHDRAWAL' GROUP BY asset) h ON h.asset = a.asset
     LEFT JOIN (SELECT asset, sum(amount + fee) AS owed FROM withdrawals WHERE status = ANY($2::text[]) GROUP BY asset) o ON o.asset = a.asset`,
    [ASSETS, OPEN_WITHDRAWAL_STATES],
  );
  return rows.map((r) => ({
    asset: r.asset,
    held: numericUnits(r.held, ASSET_SCALES[r.asset]),
    owed: numericUnits(r.owed, ASSET_SCALES[r.asset]),
  }));
}
