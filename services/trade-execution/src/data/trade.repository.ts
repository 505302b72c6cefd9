import type { SqlRunner } from '@orrange/db';
import { ASSET_SCALES, FIAT_SCALE, fromUnits, numericUnits, type Asset, type FiatCurrency } from '@orrange/money';
import type { Trade } from '../domain/trade';
import type { EscrowStatus, TradeState } from '../domain/trade-state-machine';

/** The columns as Postgres returns them (NUMERIC as text): only toTrade reads them. */
interface TradeRow {
  id: string;
  match_id: string;
  buy_order_id: string | null;
  sell_order_id: string | null;
  buyer_id: string;
  seller_id: string;
  asset: Asset;
  fiat_currency: FiatCurrency;
  price: string;
  amount: string;
  fiat_amount: string;
  fee: string;
  payment_method: string;
  payment_window_minutes: number;
  status: TradeState;
  escrow_status: EscrowStatus;
  payment_deadline: Date;
  dispute_id: string | null;
  disputed_by: string | null;
  arbitrator_id: string | null;
  outcome: string | null;
  buyer_amount: string | null;
  cancel_reason: string | null;
  paid_at: Date | null;
  closed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

function toTrade(row: TradeRow): Trade {
  const scale = ASSET_SCALES[row.asset];
  return {
    id: row.id,
    matchId: row.match_id,
    buyOrderId: row.buy_order_id,
    sellOrderId: row.sell_order_id,
    buyerId: row.buyer_id,
    sellerId: row.seller_id,
    asset: row.asset,
    fiatCurrency: row.fiat_currency,
    price: numericUnits(row.price, FIAT_SCALE),
    amount: numericUnits(row.amount, scale),
    fiatAmount: numericUnits(row.fiat_amount, FIAT_SCALE),
    fee: numericUnits(row.fee, scale),
    paymentMethod: row.payment_method,
    paymentWindowMinutes: row.payment_window_minutes,
    status: row.status,
    escrowStatus: row.escrow_status,
    paymentDeadline: row.payment_deadline,
    disputeId: row.dispute_id,
    disputedBy: row.disputed_by,
    arbitratorId: row.arbitrator_id,
    outcome: row.outcome,
    buyerAmount: row.buyer_amount === null ? null : numericUnits(row.buyer_amount, scale),
    cancelReason: row.cancel_reason,
    paidAt: row.paid_at,
    closedAt: row.closed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function findTrade(db: SqlRunner, id: string): Promise<Trade | undefined> {
  const [row] = await db.query<TradeRow>('SELECT * FROM trades WHERE id = $1', [id]);
  return row && toTrade(row);
}

/** Locks the trade row for a transition: racing transitions on one trade queue here and see each other's result. */
export async function lockTrade(tx: SqlRunner, id: string): Promise<Trade | undefined> {
  const [row] = await tx.query<TradeRow>('SELECT * FROM trades WHERE id = $1 FOR UPDATE', [id]);
  return row && toTrade(row);
}

/** What a transition changes; amounts in the trade's asset units. */
export interface TradeChanges {
  status: TradeState;
  escrowStatus?: EscrowStatus;
  fee?: bigint;
  paidAt?: boolean;
  closed?: boolean;
  cancelReason?: string;
  disputeId?: string;
  disputedBy?: string;
  outcome?: string;
  buyerAmount?: bigint;
}

export async function updateTrade(tx: SqlRunner, trade: Pick<Trade, 'id' | 'asset'>, c: TradeChanges): Promise<Trade> {
  const decimal = (units: bigint | undefined) =>
    units === undefined ? null : fromUnits(units, ASSET_SCALES[trade.asset]);
  const [row] = await tx.query<TradeRow>(
    `UPDATE trades SET status = $2,
       escrow_status = coalesce($3, escrow_status),
       fee = coalesce($4::numeric, fee),
       paid_at = CASE WHEN $5 THEN now() ELSE paid_at END,
       closed_at = CASE WHEN $6 THEN now() ELSE closed_at END,
       cancel_reason = coalesce($7, cancel_reason),
       dispute_id = coalesce($8, dispute_id),
       disputed_by = coalesce($9, disputed_by),
       outcome = coalesce($10, outcome),
       buyer_amount = coalesce($11::numeric, buyer_amount),
       updated_at = now()
     WHERE id = $1 RETURNING *`,
    [
      trade.id,
      c.status,
      c.escrowStatus ?? null,
      decimal(c.fee),
      c.paidAt ?? false,
      c.closed ?? false,
      c.cancelReason ?? null,
      c.disputeId ?? null,
      c.disputedBy ?? null,
      c.outcome ?? null,
      decimal(c.buyerAmount),
    ],
  );
  return toTrade(row!);
}

export async function setArbitrator(tx: SqlRunner, tradeId: string, arbitratorId: string): Promise<boolean> {
  const rows = await tx.query('UPDATE trades SET arbitrator_id = $2, updated_at = now() WHERE id = $1 RETURNING 1', [
    tradeId,
    arbitratorId,
  ]);
  return rows.length === 1;
}

/** The caller's trades (as buyer or seller), newest first; each side uses its own index. */
export async function listTrades(
  db: SqlRunner,
  userId: string,
  status: TradeState | null,
  limit: number,
  after: { createdAt: Date; id: string } | null,
): Promise<Trade[]> {
  const side = (column: string) => `(SELECT * FROM trades WHERE ${column} = $1 AND ($2::text IS NULL OR status = $2)
      AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::text)) ORDER BY created_at DESC, id DESC LIMIT $5)`;
  const rows = await db.query<TradeRow>(
    `SELECT * FROM (${side('buyer_id')} UNION ${side('seller_id')}) t ORDER BY created_at DESC, id DESC LIMIT $5`,
    [userId, status, after?.createdAt ?? null, after?.id ?? '', limit],
  );
  return rows.map(toTrade);
}

/**
 * Trades still AWAITING_PAYMENT whose payment deadline has passed, most overdue first (a partial index finds them),
 * leaving out `skipped` ones.
 */
export async function dueTradeIds(db: SqlRunner, limit: number, skipped: string[] = []): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM trades WHERE status = 'AWAITING_PAYMENT' AND payment_deadline <= now() AND NOT (id = ANY($2::text[]))
     ORDER BY payment_deadline LIMIT $1`,
    [limit, skipped],
  );
  return rows.map((r) => r.id);
}

/** Makes open_trades set payment deadlines with this service's length of a payment-window minute. */
export async function savePaymentMinute(db: SqlRunner, paymentMinuteMs: number): Promise<void> {
  await db.query('UPDATE settings SET payment_minute_ms = $1 WHERE id AND payment_minute_ms <> $1', [paymentMinuteMs]);
}
