import { ASSET_SCALES, FIAT_SCALE, fromUnits } from '@orrange/money';
import type { Trade, TradeMessage } from '../domain/trade';

/** A trade as API.md describes it: what GET /trades/:id answers (without paymentDetails) and trade.updated carries. */
export function tradeJson(t: Trade) {
  const scale = ASSET_SCALES[t.asset];
  return {
    id: t.id,
    matchId: t.matchId,
    buyOrderId: t.buyOrderId,
    sellOrderId: t.sellOrderId,
    buyerId: t.buyerId,
    sellerId: t.sellerId,
    asset: t.asset,
    fiatCurrency: t.fiatCurrency,
    price: fromUnits(t.price, FIAT_SCALE),
    amount: fromUnits(t.amount, scale),
    fiatAmount: fromUnits(t.fiatAmount, FIAT_SCALE),
    fee: fromUnits(t.fee, scale),
    paymentMethod: t.paymentMethod,
    paymentWindowMinutes: t.paymentWindowMinutes,
    status: t.status,
    paymentDeadline: t.paymentDeadline.toISOString(),
    escrow: { status: t.escrowStatus },
    disputeId: t.disputeId,
    arbitratorId: t.arbitratorId,
    cancelReason: t.cancelReason,
    outcome: t.outcome,
    buyerAmount: t.buyerAmount === null ? null : fromUnits(t.buyerAmount, scale),
    paidAt: t.paidAt?.toISOString() ?? null,
    closedAt: t.closedAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}

/** A chat message as API.md describes it: what the chat's routes answer and trade.message carries. */
export function messageJson(m: TradeMessage) {
  return { id: m.id, tradeId: m.tradeId, senderId: m.senderId, body: m.body, createdAt: m.createdAt.toISOString() };
}

/** Feedback as POST /trades/:id/feedback answers it. */
export function feedbackJson<F extends { createdAt: Date }>(feedback: F) {
  return { ...feedback, createdAt: feedback.createdAt.toISOString() };
}
