import type { SqlExecutor } from '@orrange/queue';
import { ASSET_SCALES, FIAT_SCALE, normalize, type Asset, type FiatCurrency } from '@orrange/money';
import type { TradeState } from '../domain/trade-state-machine';
import { markActive } from './stats.repository';

export interface TradeRow {
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
  escrow_status: 'LOCKED' | 'RELEASED' | 'REFUNDED';
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

export interface NewTrade {
  id: string;
  matchId: string;
  buyOrderId: string | null;
  sellOrderId: string | null;
  buyerId: string;
  sellerId: string;
  asset: Asset;
  fiatCurrency: FiatCurrency;
  price: string;
  amount: string;
  fiatAmount: string;
  paymentMethod: string;
  paymentWindowMinutes: number;
  paymentDeadline: Date;
  createdAt: Date;
}

/**
 * Inserts the trades AWAITING_PAYMENT with their escrow LOCKED and marks their parties active this hour, one
 * statement for all, and returns the ids that were inserted (a trade whose id or match exists already is not).
 */
export async function insertTrades(tx: SqlExecutor, trades: NewTrade[]): Promise<Set<string>> {
  if (trades.length === 0) return new Set();
  const rows = await tx.query<{ id: string }>(
    `WITH active AS (${markActive('$2')})
     INSERT INTO trades (id, match_id, buy_order_id, sell_order_id, buyer_id, seller_id, asset, fiat_currency, price, amount, fiat_amount,
                         payment_method, payment_window_minutes, status, escrow_status, payment_deadline, created_at, updated_at)
     SELECT t.id, t.match_id, t.buy_order_id, t.sell_order_id, t.buyer_id, t.seller_id, t.asset, t.fiat_currency, t.price, t.amount, t.fiat_amount,
            t.payment_method, t.payment_window_minutes, 'AWAITING_PAYMENT', 'LOCKED', t.payment_deadline, t.created_at, t.created_at
     FROM jsonb_to_recordset($1::jsonb) AS t(id text, match_id text, buy_order_id text, sell_order_id text, buyer_id text, seller_id text, asset text,
          fiat_currency text, price numeric, amount numeric, fiat_amount numeric, payment_method text, payment_window_minutes int,
          payment_deadline timestamptz, created_at timestamptz)
     ON CONFLICT DO NOTHING RETURNING id`,
    [JSON.stringify(trades.map((t) => ({
      id: t.id, match_id: t.matchId, buy_order_id: t.buyOrderId, sell_order_id: t.sellOrderId, buyer_id: t.buyerId, seller_id: t.sellerId, asset: t.asset,
      fiat_currency: t.fiatCurrency, price: t.price, amount: t.amount, fiat_amount: t.fiatAmount, payment_method: t.paymentMethod,
      payment_window_minutes: t.paymentWindowMinutes, payment_deadline: t.paymentDeadline.toISOString(), created_at: t.createdAt.toISOString(),
    }))), trades.flatMap((t) => [t.buyerId, t.sellerId])],
  );
  return new Set(rows.map((r) => r.id));
}

export async function findTrade(db: SqlExecutor, id: string): Promise<TradeRow | undefined> {
  const [row] = await db.query<TradeRow>('SELECT * FROM trades WHERE id = $1', [id]);
  return row;
}

/** Locks the trade row for a transition: racing transitions on one trade queue here and see each other's result. */
export async function lockTrade(tx: SqlExecutor, id: string): Promise<TradeRow | undefined> {
  const [row] = await tx.query<TradeRow>('SELECT * FROM trades WHERE id = $1 FOR UPDATE', [id]);
  return row;
}

/** For each match, in order: whether it was handled already (its trade exists, or it was rejected). */
export async function matchesAlreadyHandled(tx: SqlExecutor, matches: Array<{ matchId: string; tradeId: string }>): Promise<boolean[]> {
  if (matches.length === 0) return [];
  const rows = await tx.query<{ handled: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM trades t WHERE t.id = m.trade_id)
            OR EXISTS (SELECT 1 FROM trades t WHERE t.match_id = m.match_id)
            OR EXISTS (SELECT 1 FROM rejected_matches r WHERE r.match_id = m.match_id) AS handled
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m(match_id, trade_id, n) ORDER BY m.n`,
    [matches.map((m) => m.matchId), matches.map((m) => m.tradeId)],
  );
  return rows.map((r) => r.handled);
}

/** Records matches that could not be funded, so a redelivery with another event id does nothing. */
export async function recordRejectedMatches(tx: SqlExecutor, rejected: Array<{ matchId: string; tradeId: string; reason: string }>): Promise<void> {
  if (rejected.length === 0) return;
  await tx.query(
    'INSERT INTO rejected_matches (match_id, trade_id, reason) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING',
    [rejected.map((r) => r.matchId), rejected.map((r) => r.tradeId), rejected.map((r) => r.reason)],
  );
}

export interface TradeChanges {
  status: TradeState;
  escrowStatus?: 'LOCKED' | 'RELEASED' | 'REFUNDED';
  fee?: string;
  paidAt?: boolean;
  closed?: boolean;
  cancelReason?: string;
  disputeId?: string;
  disputedBy?: string;
  outcome?: string;
  buyerAmount?: string;
}

export async function updateTrade(tx: SqlExecutor, id: string, c: TradeChanges): Promise<TradeRow> {
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
    [id, c.status, c.escrowStatus ?? null, c.fee ?? null, c.paidAt ?? false, c.closed ?? false, c.cancelReason ?? null, c.disputeId ?? null, c.disputedBy ?? null, c.outcome ?? null, c.buyerAmount ?? null],
  );
  return row!;
}

export async function setArbitrator(tx: SqlExecutor, tradeId: string, arbitratorId: string): Promise<boolean> {
  const rows = await tx.query('UPDATE trades SET arbitrator_id = $2, updated_at = now() WHERE id = $1 RETURNING 1', [tradeId, arbitratorId]);
  return rows.length === 1;
}

/** The caller's trades (as buyer or seller), newest first; each side uses its own index. */
export async function listTrades(db: SqlExecutor, userId: string, status: TradeState | null, limit: number, after: { createdAt: Date; id: string } | null): Promise<TradeRow[]> {
  const side = (column: string) => `(SELECT * FROM trades WHERE ${column} = $1 AND ($2::text IS NULL OR status = $2)
      AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::text)) ORDER BY created_at DESC, id DESC LIMIT $5)`;
  return db.query<TradeRow>(
    `SELECT * FROM (${side('buyer_id')} UNION ${side('seller_id')}) t ORDER BY created_at DESC, id DESC LIMIT $5`,
    [userId, status, after?.createdAt ?? null, after?.id ?? '', limit],
  );
}

/** A trade as API.md describes it. */
export function tradeJson(t: TradeRow) {
  const scale = ASSET_SCALES[t.asset];
  return {
    id: t.id,
    matchId: t.match_id,
    buyOrderId: t.buy_order_id,
    sellOrderId: t.sell_order_id,
    buyerId: t.buyer_id,
    sellerId: t.seller_id,
    asset: t.asset,
    fiatCurrency: t.fiat_currency,
    price: normalize(t.price, FIAT_SCALE),
    amount: normalize(t.amount, scale),
    fiatAmount: normalize(t.fiat_amount, FIAT_SCALE),
    fee: normalize(t.fee, scale),
    paymentMethod: t.payment_method,
    paymentWindowMinutes: t.payment_window_minutes,
    status: t.status,
    paymentDeadline: t.payment_deadline.toISOString(),
    escrow: { status: t.escrow_status },
    disputeId: t.dispute_id,
    arbitratorId: t.arbitrator_id,
    cancelReason: t.cancel_reason,
    outcome: t.outcome,
    buyerAmount: t.buyer_amount === null ? null : normalize(t.buyer_amount, scale),
    paidAt: t.paid_at?.toISOString() ?? null,
    closedAt: t.closed_at?.toISOString() ?? null,
    createdAt: t.created_at.toISOString(),
    updatedAt: t.updated_at.toISOString(),
  };
}
