import { ASSET_SCALES, FIAT_SCALE, normalize } from '@orrange/money';
import type { TradeRow } from '../data/trade.repository';

/** A trade as API.md describes it: what GET /trades/:id answers (without paymentDetails) and trade.updated carries. */
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
